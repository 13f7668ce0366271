using System.Buffers.Binary;
using System.Text.Json;

namespace GpuAutoencoder.Training.IO;

public sealed record Tensor(string Name, int[] Shape, float[] Data);

/// <summary>The Hugging Face safetensors format (F32 only), so checkpoints open in PyTorch/NumPy too:
/// u64 little-endian header length, a JSON header, then the tensors' bytes.</summary>
public static class SafeTensors
{
    const string MetadataKey = "__metadata__";

    public static void Write(string path, IReadOnlyList<Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata != null)
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                if (t.Name == MetadataKey) throw new ArgumentException($"a tensor cannot be named {MetadataKey}");
                if (Elements(t.Shape) != t.Data.Length)
                    throw new ArgumentException($"tensor {t.Name} has shape [{string.Join(",", t.Shape)}] but {t.Data.Length} values");
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset += 4L * t.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // The format asks for 8-byte alignment of the buffer so readers can map tensors in place.
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');

        AtomicFile.Write(path, s =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            s.Write(length);
            header.WriteTo(s);
            foreach (var t in tensors)
            {
                var bytes = new byte[4 * t.Data.Length];
                for (int i = 0; i < t.Data.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), t.Data[i]);
                s.Write(bytes);
            }
        });
    }

    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        var file = Path.GetFileName(path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw Error(file, $"shorter than its header ({bytes.Length} bytes)");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)(bytes.Length - 8))
            throw Error(file, $"shorter than its header: header says {headerLength} bytes but only {bytes.Length - 8} follow");
        int bufferStart = 8 + (int)headerLength;
        long bufferLength = bytes.Length - bufferStart;

        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength)); }
        catch (JsonException e) { throw Error(file, $"header is not valid JSON ({e.Message.ReplaceLineEndings(" ")})"); }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Error(file, "header is not a JSON object");

        var tensors = new Dictionary<string, Tensor>();
        var metadata = new Dictionary<string, string>();
        foreach (var entry in doc.RootElement.EnumerateObject())
        {
            if (entry.Name == MetadataKey)
            {
                if (entry.Value.ValueKind != JsonValueKind.Object) throw Error(file, $"{MetadataKey} is not an object");
                foreach (var m in entry.Value.EnumerateObject())
                    metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String
                        ? m.Value.GetString()!
                        : throw Error(file, $"metadata {m.Name} is not a string");
                continue;
            }
            if (tensors.ContainsKey(entry.Name)) throw Error(file, $"tensor {entry.Name} appears twice");
            tensors[entry.Name] = ReadTensor(file, entry.Name, entry.Value, bytes.AsSpan(bufferStart));
        }
        return (tensors, metadata);
    }

    static Tensor ReadTensor(string file, string name, JsonElement e, ReadOnlySpan<byte> buffer)
    {
        if (e.ValueKind != JsonValueKind.Object
            || !e.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String
            || !e.TryGetProperty("shape", out var shapeJson) || !e.TryGetProperty("data_offsets", out var offsetsJson))
            throw Error(file, $"tensor {name} lacks dtype, shape or data_offsets");
        if (dtype.GetString() != "F32") throw Error(file, $"tensor {name} has dtype {dtype.GetString()}; gpuae reads only F32");
        var shape = Integers(file, name, "shape", shapeJson).Select(d => d <= int.MaxValue ? (int)d : throw Error(file, $"tensor {name} has a dimension of {d}")).ToArray();
        var offsets = Integers(file, name, "data_offsets", offsetsJson);
        if (offsets.Length != 2) throw Error(file, $"tensor {name} has {offsets.Length} data_offsets, expected 2");
        var (begin, end) = (offsets[0], offsets[1]);
        if (begin > end || end > buffer.Length)
            throw Error(file, $"tensor {name} has data_offsets [{begin},{end}] out of range (the data buffer has {buffer.Length} bytes)");
        long count;
        try { count = Elements(shape); }
        catch (OverflowException) { throw Error(file, $"tensor {name} has an impossibly large shape [{string.Join(",", shape)}]"); }
        // Compared by division so that a huge shape cannot wrap around to the right byte count.
        if ((end - begin) % 4 != 0 || (end - begin) / 4 != count)
            throw Error(file, $"tensor {name} has data_offsets [{begin},{end}] ({end - begin} bytes) inconsistent with shape [{string.Join(",", shape)}] ({count} F32 values)");

        var data = new float[count];
        var span = buffer[(int)begin..(int)end];
        for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(span[(4 * i)..]);
        return new Tensor(name, shape, data);
    }

    static long[] Integers(string file, string tensor, string field, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Array) throw Error(file, $"tensor {tensor}: {field} is not an array");
        return e.EnumerateArray()
            .Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt64(out var v) && v >= 0
                ? v
                : throw Error(file, $"tensor {tensor}: {field} holds {x.GetRawText()}, not a non-negative integer"))
            .ToArray();
    }

    // Checked so that a hostile shape cannot overflow into a small, plausible byte count.
    static long Elements(IEnumerable<int> shape) => shape.Aggregate(1L, (n, d) => checked(n * d));

    static SafeTensorsException Error(string file, string what) => new($"{file}: {what}");
}
