using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Unicode;

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
        // File.ReadAllBytes refuses files over 2 GB with a bare IOException.
        long length = new FileInfo(path).Length;
        if (length > Array.MaxLength) throw Error(file, $"{length} bytes is larger than gpuae reads");
        return Parse(File.ReadAllBytes(path), file);
    }

    /// <summary>
    /// A safetensors file's bytes, checked as strictly as the reference implementation checks them:
    /// a header of at most <see cref="MaxHeaderBytes"/> that is one JSON object with no key twice, F32
    /// tensors only, and byte ranges that tile the data buffer exactly (no gap, overlap or trailing
    /// byte). Every problem is a <see cref="SafeTensorsException"/> naming <paramref name="file"/>.
    /// </summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Parse(ReadOnlyMemory<byte> bytes, string file)
    {
        if (bytes.Length < 8) throw Error(file, $"shorter than its header ({bytes.Length} bytes)");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes.Span);
        if (headerLength > (ulong)(bytes.Length - 8))
            throw Error(file, $"shorter than its header: header says {headerLength} bytes but only {bytes.Length - 8} follow");
        if (headerLength > MaxHeaderBytes)
            throw Error(file, $"header length {headerLength} is over the {MaxHeaderBytes}-byte limit");
        var header = bytes.Slice(8, (int)headerLength);
        var buffer = bytes[(8 + (int)headerLength)..];
        // As the reference implementation: the header is an object, written first thing.
        if (header.Length == 0 || header.Span[0] != (byte)'{') throw Error(file, "header does not start with '{'");
        // JsonDocument checks a string's UTF-8 only when the string is read, and then throws InvalidOperationException.
        if (!Utf8.IsValid(header.Span)) throw Error(file, "header is not valid UTF-8");

        JsonDocument doc;
        try { doc = JsonDocument.Parse(header); }
        catch (JsonException e) { throw Error(file, $"header is not valid JSON ({e.Message.ReplaceLineEndings(" ")})"); }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Error(file, "header is not a JSON object");

        var entries = new List<Entry>();
        Dictionary<string, string>? metadata = null;
        foreach (var entry in Unique(file, "the header", doc.RootElement))
        {
            if (entry.Name != MetadataKey)
            {
                entries.Add(ReadEntry(file, entry.Name, entry.Value));
                continue;
            }
            if (entry.Value.ValueKind != JsonValueKind.Object) throw Error(file, $"{MetadataKey} is not an object");
            metadata = Unique(file, MetadataKey, entry.Value).ToDictionary(m => m.Name, m => m.Value.ValueKind == JsonValueKind.String
                ? m.Value.GetString()!
                : throw Error(file, $"metadata {m.Name} is not a string"));
        }
        CheckCoverage(file, entries, buffer.Length);

        var tensors = new Dictionary<string, Tensor>();
        foreach (var e in entries)
        {
            var data = new float[e.Count];
            var span = buffer.Span[(int)e.Begin..(int)e.End];
            // The file is little-endian F32, so on a little-endian host it is the array's own bytes.
            if (BitConverter.IsLittleEndian) span.CopyTo(MemoryMarshal.AsBytes(data.AsSpan()));
            else for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(span[(4 * i)..]);
            tensors[e.Name] = new Tensor(e.Name, e.Shape, data);
        }
        return (tensors, metadata ?? []);
    }

    /// <summary>The reference implementation's limit on the header, so that a length field cannot make a reader parse gigabytes of JSON.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    sealed record Entry(string Name, int[] Shape, long Count, long Begin, long End);

    /// <summary>The object's properties, refusing a name that appears twice: JSON parsers disagree on which one wins.</summary>
    static IEnumerable<JsonProperty> Unique(string file, string where, JsonElement obj)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in obj.EnumerateObject())
            yield return seen.Add(p.Name) ? p : throw Error(file, $"key {p.Name} appears twice in {where}");
    }

    static Entry ReadEntry(string file, string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Error(file, $"tensor {name} is not an object");
        var fields = Unique(file, $"tensor {name}", e).ToDictionary(p => p.Name, p => p.Value);
        if (!fields.TryGetValue("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String
            || !fields.TryGetValue("shape", out var shapeJson) || !fields.TryGetValue("data_offsets", out var offsetsJson))
            throw Error(file, $"tensor {name} lacks dtype, shape or data_offsets");
        if (dtype.GetString() != "F32") throw Error(file, $"tensor {name} has dtype {dtype.GetString()}; gpuae reads only F32");
        var shape = Integers(file, name, "shape", shapeJson).Select(d => d <= int.MaxValue ? (int)d : throw Error(file, $"tensor {name} has a dimension of {d}")).ToArray();
        var offsets = Integers(file, name, "data_offsets", offsetsJson);
        if (offsets.Length != 2) throw Error(file, $"tensor {name} has {offsets.Length} data_offsets, expected 2");
        var (begin, end) = (offsets[0], offsets[1]);
        if (begin > end) throw Error(file, $"tensor {name} has data_offsets [{begin},{end}] that end before they begin");
        long count;
        try { count = Elements(shape); }
        catch (OverflowException) { throw Error(file, $"tensor {name} has an impossibly large shape [{string.Join(",", shape)}]"); }
        // Compared by division so that a huge shape cannot wrap around to the right byte count.
        if ((end - begin) % 4 != 0 || (end - begin) / 4 != count)
            throw Error(file, $"tensor {name} has data_offsets [{begin},{end}] ({end - begin} bytes) inconsistent with shape [{string.Join(",", shape)}] ({count} F32 values)");
        return new Entry(name, shape, count, begin, end);
    }

    /// <summary>The tensors' byte ranges, in order, must tile the buffer: each starts where the one before ends, the first at 0,
    /// the last at the buffer's end. A gap or trailing byte would hide data no tensor owns; an overlap would alias two tensors.</summary>
    static void CheckCoverage(string file, List<Entry> entries, long bufferLength)
    {
        long covered = 0;
        string previous = "the start of the data buffer";
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin < covered)
                throw Error(file, $"tensor {e.Name} (bytes {e.Begin}..{e.End}) overlaps {previous}, which ends at {covered}");
            if (e.Begin > covered)
                throw Error(file, $"tensor {e.Name} starts at byte {e.Begin}, leaving a gap after {previous}, which ends at {covered}");
            if (e.End > bufferLength)
                throw Error(file, $"tensor {e.Name} has data_offsets [{e.Begin},{e.End}] out of range (the data buffer has {bufferLength} bytes)");
            (covered, previous) = (e.End, $"tensor {e.Name}");
        }
        if (covered != bufferLength)
            throw Error(file, $"{bufferLength - covered} trailing bytes after the last tensor's data (the data buffer has {bufferLength} bytes, the tensors cover {covered})");
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
