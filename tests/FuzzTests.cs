using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>
/// Issue 13's fuzzer over every reader gpuae has: IDX (raw and gzip), safetensors, model weights, the
/// checkpoint and metrics.json. Seeds are small valid files; see <see cref="Fuzzer"/> for what each case must do.
/// </summary>
[Category("Fuzz")]
public class FuzzTests
{
    static string _dir = "";

    [OneTimeSetUp] public void OneTimeSetUp() => _dir = TestPaths.TempDir("fuzz");
    [OneTimeTearDown] public void OneTimeTearDown() => Directory.Delete(_dir, recursive: true);

    // ---- IDX ----

    static readonly Type[] IdxRefusals = [typeof(DataFormatException)];

    static string ImagesStructure(object o) => o is IdxImages i ? $"{i.Count} images of {i.Rows}x{i.Cols}, {i.Pixels.Length} bytes" : "?";
    static string LabelsStructure(object o) => o is byte[] l ? $"{l.Length} labels" : "?";

    static Region[] IdxRegions(int header, int length, params string[] fields) =>
    [
        .. fields.Select((f, k) => new Region(f, 4 * k, 4 * k + 4)),
        new("payload", header, length),
        new("end", length, length + 1),
    ];

    static FuzzTarget RawImages()
    {
        var seed = TestData.Images(TestImages.Synthetic(3, 7), 3);
        return new FuzzTarget
        {
            Reader = "IDX images, raw",
            Seed = seed,
            Load = b => IdxFile.ParseImages(b.ToArray(), "images"),
            Structure = ImagesStructure,
            Refusals = IdxRefusals,
            HeaderEnd = 16,
            Regions = IdxRegions(16, seed.Length, "magic", "count", "rows", "columns"),
            Structured = [.. new[] { (0, "magic"), (4, "count"), (8, "rows"), (12, "columns") }
                .Select(f => (Func<Random, Mutation>)(rng => Fuzzer.SetBigEndian32(seed, f.Item1, f.Item2, Fuzzer.LengthValues[rng.Next(Fuzzer.LengthValues.Length)])))],
        };
    }

    static FuzzTarget RawLabels()
    {
        var seed = TestData.Labels(5);
        return new FuzzTarget
        {
            Reader = "IDX labels, raw",
            Seed = seed,
            Load = b => IdxFile.ParseLabels(b.ToArray(), "labels"),
            Structure = LabelsStructure,
            Refusals = IdxRefusals,
            HeaderEnd = 8,
            Regions = IdxRegions(8, seed.Length, "magic", "count"),
            Structured = [rng => Fuzzer.SetBigEndian32(seed, 4, "count", Fuzzer.LengthValues[rng.Next(Fuzzer.LengthValues.Length)])],
        };
    }

    /// <summary>The gzip of an images file. Length fields: those of the IDX header inside (gzipped again), and the
    /// gzip trailer's size; the trailer's CRC and the deflate stream get the generic mutations.</summary>
    static FuzzTarget GzipImages()
    {
        var raw = TestData.Images(TestImages.Synthetic(3, 7), 3);
        var seed = GzipFiles.Gzip(raw);
        int n = seed.Length;
        return new FuzzTarget
        {
            Reader = "IDX images, gzip",
            Seed = seed,
            Load = b => IdxFile.ParseImages(b.ToArray(), "images.gz"),
            Structure = ImagesStructure,
            Refusals = IdxRefusals,
            HeaderEnd = 10 + 32,
            Regions = [new("gzip header", 0, 10), new("deflate stream", 10, n - 8), new("crc32", n - 8, n - 4), new("size", n - 4, n), new("end", n, n + 1)],
            AllocationLimit = len => 1032 * len + (1 << 20),
            Structured =
            [
                rng =>
                {
                    var (offset, field) = new[] { (4, "count"), (8, "rows"), (12, "columns") }[rng.Next(3)];
                    ulong value = Fuzzer.LengthValues[rng.Next(Fuzzer.LengthValues.Length)];
                    var inner = Fuzzer.SetBigEndian32(raw, offset, field, value).Replacement!.Value.ToArray();
                    return Mutation.Whole($"length inner {field} = {value}", GzipFiles.Gzip(inner));
                },
                rng =>
                {
                    ulong value = Fuzzer.LengthValues[rng.Next(Fuzzer.LengthValues.Length)];
                    var patched = (byte[])seed.Clone();
                    BinaryPrimitives.WriteUInt32LittleEndian(patched.AsSpan(n - 4), unchecked((uint)value));
                    return Mutation.Whole($"length gzip trailer size = {value}", patched);
                },
            ],
        };
    }

    [Test] public void Fuzz_IdxImagesRaw() => Fuzzer.Check(RawImages());
    [Test] public void Fuzz_IdxLabelsRaw() => Fuzzer.Check(RawLabels());
    [Test] public void Fuzz_IdxImagesGzip() => Fuzzer.Check(GzipImages());

    // ---- safetensors ----

    static readonly Type[] SafeTensorsRefusals = [typeof(SafeTensorsException)];

    /// <summary>
    /// A safetensors seed split into its header JSON and its data buffer, and joined again with another header.
    /// The join is written into one reused buffer: a new array per case, for a checkpoint-sized seed, would cost
    /// more than the case.
    /// </summary>
    sealed class SafeTensorsSeed
    {
        public string Json { get; }
        public ReadOnlyMemory<byte> Buffer { get; }
        byte[] scratch;

        public SafeTensorsSeed(byte[] file)
        {
            int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
            Json = Encoding.UTF8.GetString(file, 8, n);
            Buffer = file.AsMemory(8 + n);
            scratch = new byte[file.Length + 4096];
        }

        public ReadOnlyMemory<byte> Join(string json)
        {
            int headerLength = Encoding.UTF8.GetByteCount(json), length = 8 + headerLength + Buffer.Length;
            if (scratch.Length < length) scratch = new byte[length];
            BinaryPrimitives.WriteUInt64LittleEndian(scratch, (ulong)headerLength);
            Encoding.UTF8.GetBytes(json, scratch.AsSpan(8));
            Buffer.Span.CopyTo(scratch.AsSpan(8 + headerLength));
            return scratch.AsMemory(0, length);
        }
    }

    /// <summary>Regions of a safetensors file: the length prefix, the header, each tensor's bytes, the end.</summary>
    static Region[] SafeTensorsRegions(byte[] file)
    {
        var json = new SafeTensorsSeed(file).Json;
        int start = 8 + Encoding.UTF8.GetByteCount(json);
        var tensors = JsonNode.Parse(json)!.AsObject().Where(p => p.Key != "__metadata__")
            .Select(p => new Region($"tensor {p.Key}", start + (int)p.Value!["data_offsets"]![0]!.GetValue<long>(), start + (int)p.Value!["data_offsets"]![1]!.GetValue<long>()))
            .Where(r => r.End > r.Start);
        return [new("length prefix", 0, 8), new("header", 8, start), .. tensors, new("end", file.Length, file.Length + 1)];
    }

    static bool IsSafeTensorsLengthField(string path) => path.Contains(".data_offsets[") || path.Contains(".shape[");

    /// <summary>The mutations that need the format: the length prefix, the offsets and shapes in the header, and
    /// headers of the wrong shape (each written back with a consistent length prefix, so the JSON itself is tested).</summary>
    static Func<Random, Mutation>[] SafeTensorsStructured(byte[] seed)
    {
        var split = new SafeTensorsSeed(seed);
        return
        [
            rng =>
            {
                ulong value = Fuzzer.LengthValues[rng.Next(Fuzzer.LengthValues.Length)];
                return new Mutation($"length prefix = {value}", [.. BitConverter.GetBytes(value).Select((b, i) => (i, b))], seed.Length, []);
            },
            rng =>
            {
                var (mutated, what) = Fuzzer.SetNumber(split.Json, rng, IsSafeTensorsLengthField)!.Value;
                return Mutation.Whole(what, split.Join(mutated));
            },
            rng =>
            {
                var (mutated, what) = Fuzzer.WrongShapeInside(split.Json, rng);
                return Mutation.Whole(what, split.Join(mutated));
            },
        ];
    }

    /// <summary>
    /// What the container reader must keep: how many tensors, of how many values, each holding exactly its shape's
    /// count. It cannot keep names: a flipped bit inside a name, or a shape [0,4] set to [0,0], makes another valid
    /// file, and only the readers above it (weights, checkpoint) know which names and shapes to expect.
    /// </summary>
    static string TensorsStructure((Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) r) =>
        $"{r.Tensors.Count} F32 tensors, {r.Tensors.Values.Sum(t => (long)t.Data.Length)} values, " +
        $"{r.Tensors.Values.Count(t => t.Data.Length != t.Shape.Aggregate(1L, (a, d) => a * d))} inconsistent with their shape, " +
        $"{r.Metadata.Count} metadata entries";

    static byte[] SmallSafeTensors()
    {
        var path = Path.Combine(_dir, "small.safetensors");
        SafeTensors.Write(path,
        [
            new Tensor("enc.weight", [2, 3], [1, -2, 3, 0.5f, 0, -0f]),
            new Tensor("empty", [0, 4], []),
            new Tensor("enc.bias", [3], [0.25f, -1, 7]),
            new Tensor("scalar", [], [42]),
        ], new Dictionary<string, string> { ["format"] = "test", ["epoch"] = "3" });
        return File.ReadAllBytes(path);
    }

    [Test]
    public void Fuzz_SafeTensors()
    {
        var seed = SmallSafeTensors();
        Fuzzer.Check(new FuzzTarget
        {
            Reader = "safetensors",
            Seed = seed,
            Load = b => SafeTensors.Parse(b, "small.safetensors"),
            Structure = o => TensorsStructure(((Dictionary<string, Tensor>, Dictionary<string, string>))o),
            Refusals = SafeTensorsRefusals,
            HeaderEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(seed),
            Regions = SafeTensorsRegions(seed),
            Structured = SafeTensorsStructured(seed),
        });
    }

    /// <summary>Model weights as --init and --model read them (the smallest model there is, z = 1).</summary>
    [Test]
    public void Fuzz_Weights()
    {
        var layout = new ParameterLayout(new Architecture(1));
        var path = Path.Combine(_dir, "weights.safetensors");
        ModelFile.Save(path, layout, layout.Initialize(3), new Dictionary<string, string> { ["note"] = "fuzz seed" });
        var seed = File.ReadAllBytes(path);
        Fuzzer.Check(new FuzzTarget
        {
            Reader = "model weights",
            Seed = seed,
            Load = b => ModelFile.Parse(b, "weights.safetensors"),
            Structure = o => o is (ParameterLayout l, float[] f, Dictionary<string, string> m)
                ? $"z={l.Architecture.Bottleneck} flat {f.Length}, {m.Count} metadata entries (free text, any keys)" : "?",
            Refusals = [.. SafeTensorsRefusals, typeof(ModelFormatException)],
            HeaderEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(seed),
            Regions = SafeTensorsRegions(seed),
            Structured = SafeTensorsStructured(seed),
        });
    }

    // ---- checkpoint ----

    static byte[] CheckpointSeed()
    {
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, Bottleneck = 1, Seed = 9 };
        var layout = new ParameterLayout(new Architecture(1));
        var p = layout.Initialize(9);
        var m = p.Select(v => v * 0.01f).ToArray();
        var v2 = p.Select(v => v * v).ToArray();
        var state = new TrainerState(p, m, v2, Step: 6, ShuffleState: 12345, Epoch: 1, Batch: 2, BatchLosses: [0.25f, 0.125f]);
        var c = new Checkpoint(state, options, 64, null, "00ff", "cpu", "CPU accelerator", "v3", [new EpochRecord(1, 0.3, 1e-3, 1.5, 42.0, 0.29)]);
        var path = Path.Combine(_dir, Checkpoint.FileName);
        c.Save(path);
        return File.ReadAllBytes(path);
    }

    /// <summary>
    /// The checksum of docs/CHECKPOINT.md, written here from the document, so that the fuzzer can change a
    /// metadata value and sign the file again: without that, every change stops at the checksum and the checks
    /// behind it (config, positions, history) would never see a hostile value.
    /// </summary>
    static string Checksum(JsonObject header, ReadOnlySpan<byte> buffer)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Text(string s)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(s));
            sha.AppendData([0]);
        }
        foreach (var (key, value) in header["__metadata__"]!.AsObject().Where(p => p.Key != "checksum").OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Text(key);
            Text(value is JsonValue v && v.TryGetValue<string>(out var s) ? s : value?.ToJsonString() ?? "null");
        }
        foreach (var (name, info) in header.Where(p => p.Key != "__metadata__").OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Text(name);
            foreach (var d in info!["shape"]!.AsArray()) sha.AppendData(BitConverter.GetBytes(d!.GetValue<long>()));
            var offsets = info["data_offsets"]!.AsArray();
            sha.AppendData(buffer.Slice((int)offsets[0]!.GetValue<long>(), (int)(offsets[1]!.GetValue<long>() - offsets[0]!.GetValue<long>())));
        }
        return "sha256:" + Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    static readonly string[] CheckpointNumbers = ["epoch", "batch", "step", "images", "shuffle_state", "format_version"];
    static readonly string[] ConfigNumbers = ["epochs", "batch_size", "bottleneck", "limit", "seed"];

    /// <summary>A metadata value changed (a number to a length value, or JSON of the wrong shape inside config,
    /// history or lr_schedule) and the file signed again.</summary>
    static Mutation Resigned(SafeTensorsSeed seed, Random rng)
    {
        var header = JsonNode.Parse(seed.Json)!.AsObject();
        var meta = header["__metadata__"]!.AsObject();
        string what;
        ulong value = Fuzzer.LengthValues[rng.Next(Fuzzer.LengthValues.Length)];
        switch (rng.Next(3))
        {
            case 0:
                var key = CheckpointNumbers[rng.Next(CheckpointNumbers.Length)];
                meta[key] = value.ToString();
                what = $"length metadata {key} = {value} (signed)";
                break;
            case 1:
                var config = JsonNode.Parse(meta["config"]!.GetValue<string>())!.AsObject();
                var field = ConfigNumbers[rng.Next(ConfigNumbers.Length)];
                config[field] = JsonValue.Create(value);
                meta["config"] = config.ToJsonString();
                what = $"length config.{field} = {value} (signed)";
                break;
            default:
                var target = new[] { "config", "history", "lr_schedule" }[rng.Next(3)];
                var (mutated, inner) = Fuzzer.WrongShapeInside(meta[target]!.GetValue<string>(), rng);
                meta[target] = mutated;
                what = $"wrong-shape {target}: {inner} (signed)";
                break;
        }
        meta["checksum"] = Checksum(header, seed.Buffer.Span);
        return Mutation.Whole(what, seed.Join(header.ToJsonString()));
    }

    [Test]
    public void Fuzz_Checkpoint()
    {
        var seed = CheckpointSeed();
        var split = new SafeTensorsSeed(seed);
        Assert.That(Checksum(JsonNode.Parse(split.Json)!.AsObject(), split.Buffer.Span), Is.EqualTo(JsonNode.Parse(split.Json)!["__metadata__"]!["checksum"]!.GetValue<string>()),
            "the fuzzer's checksum, written from docs/CHECKPOINT.md, signs the seed as Checkpoint.Save does");
        Fuzzer.Check(new FuzzTarget
        {
            Reader = "checkpoint",
            Seed = seed,
            Load = b => Checkpoint.Parse(b, Checkpoint.FileName),
            Structure = o => o is Checkpoint c
                ? $"z={c.Options.Bottleneck} params {c.State.Parameters.Length}/{c.State.AdamM.Length}/{c.State.AdamV.Length} " +
                  $"losses {c.State.BatchLosses.Length} history {c.History.Count}" : "?",
            Refusals = [.. SafeTensorsRefusals, typeof(CheckpointException)],
            HeaderEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(seed),
            Regions = SafeTensorsRegions(seed),
            Structured = [.. SafeTensorsStructured(seed), rng => Resigned(split, rng)],
            AnywhereFlips = 0.125,
        });
    }

    // ---- metrics.json ----

    [Test]
    public void Fuzz_Metrics()
    {
        var metrics = new RunMetrics
        {
            Config = new RunConfig(3, 16, 8, 1e-3, 0.95, 9, true, 64, null),
            Accelerator = "cpu",
            Device = "CPU accelerator",
            Schedule = "v3",
            Parameters = 622504,
            DatasetSha256 = "00ff",
            Epochs = [new EpochRecord(1, 0.3, 1e-3, 1.5, 42.0, 0.29), new EpochRecord(2, 0.2, 9.5e-4, 1.4, 45.0)],
        };
        var path = Path.Combine(_dir, "metrics.json");
        metrics.Save(path);
        var seed = File.ReadAllBytes(path);
        var text = Encoding.UTF8.GetString(seed);
        int n = seed.Length;
        Fuzzer.Check(new FuzzTarget
        {
            Reader = "metrics.json",
            Seed = seed,
            Load = b => RunMetrics.Parse(b.Span, "metrics.json"),
            Structure = o => o is RunMetrics m
                ? $"config, {m.Epochs.Count} epochs, test_mse on {m.Epochs.Count(e => e.TestMse != null)}" : "?",
            Refusals = [typeof(MetricsFormatException)],
            HeaderEnd = n,
            Regions = [.. Enumerable.Range(0, 8).Select(k => new Region($"eighth {k + 1}", k * n / 8, (k + 1) * n / 8)), new("end", n, n + 1)],
            Structured =
            [
                rng => Fuzzer.SetNumber(text, rng, _ => true) is { } r
                    ? Mutation.Whole(r.What, Encoding.UTF8.GetBytes(r.Json)) : throw new InvalidOperationException("no number in the seed"),
                rng =>
                {
                    var (json, what) = Fuzzer.WrongShapeInside(text, rng);
                    return Mutation.Whole(what, Encoding.UTF8.GetBytes(json));
                },
            ],
        });
    }
}
