using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Training;

/// <summary>
/// A training run frozen between two batches: the trainer's whole state, plus what must match for
/// a resume to be the same run (config, dataset) and where it ran. The file format is described in
/// docs/CHECKPOINT.md; change <see cref="FormatVersion"/> whenever it changes.
/// </summary>
/// <param name="Images">Images trained on (after --limit).</param>
/// <param name="Init">The --init file the run started from, for the record; null for a seeded start.</param>
/// <param name="Accelerator">"cpu", "cuda" or "opencl"; with <paramref name="Schedule"/> it decides the float summation order.</param>
/// <param name="History">The finished epochs so far, so metrics.json survives a resume.</param>
public sealed record Checkpoint(
    TrainerState State,
    TrainingOptions Options,
    int Images,
    string? Init,
    string DatasetSha256,
    string Accelerator,
    string Device,
    string Schedule,
    IReadOnlyList<EpochRecord> History)
{
    /// <summary>--checkpoint-every of the run, which a resume keeps unless it is given again. Checkpoints written
    /// before it was recorded lack it and read as 1, the default.</summary>
    public int CheckpointEvery { get; init; } = 1;

    /// <summary>The arithmetic of the run's matrix products. Checkpoints written before it was recorded lack it and read
    /// as fp32, the only precision there was.</summary>
    public Precision Precision { get; init; } = Precision.Fp32;

    public const string FileName = "checkpoint.safetensors";
    public const string Format = "gpuae-checkpoint";
    public const int FormatVersion = 1;
    const string LossesTensor = "epoch_losses";
    static readonly string[] Prefixes = ["", "adam_m.", "adam_v."];

    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public void Save(string path)
    {
        var layout = new ParameterLayout(new Architecture(Options.Bottleneck));
        float[][] flats = [State.Parameters, State.AdamM, State.AdamV];
        var tensors = new List<Tensor>();
        for (int i = 0; i < Prefixes.Length; i++) tensors.AddRange(layout.ToTensors(flats[i], Prefixes[i]));
        tensors.Add(new Tensor(LossesTensor, [State.BatchLosses.Length], State.BatchLosses));

        var metadata = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            ["epoch"] = State.Epoch.ToString(CultureInfo.InvariantCulture),
            ["batch"] = State.Batch.ToString(CultureInfo.InvariantCulture),
            ["step"] = State.Step.ToString(CultureInfo.InvariantCulture),
            ["shuffle_state"] = State.ShuffleState.ToString(CultureInfo.InvariantCulture),
            ["lr_schedule"] = JsonSerializer.Serialize(new LearningRateSchedule("exponential", Options.LearningRate, Options.Gamma,
                State.Epoch, Options.LearningRateAt(State.Epoch)), Json),
            ["config"] = JsonSerializer.Serialize(Options, Json),
            ["images"] = Images.ToString(CultureInfo.InvariantCulture),
            ["dataset_sha256"] = DatasetSha256,
            ["accelerator"] = Accelerator,
            ["device"] = Device,
            ["schedule"] = Schedule,
            ["history"] = JsonSerializer.Serialize(History),
        };
        if (Init != null) metadata["init"] = Init;
        metadata["checkpoint_every"] = CheckpointEvery.ToString(CultureInfo.InvariantCulture);
        metadata["precision"] = Precisions.Name(Precision);
        metadata["checksum"] = Checksum(metadata, tensors);
        SafeTensors.Write(path, tensors, metadata);
    }

    public static Checkpoint Load(string path) => FromFile(SafeTensors.Read(path), Path.GetFileName(path));

    /// <summary><see cref="Load"/> for a file's bytes; <paramref name="file"/> names it in errors.</summary>
    public static Checkpoint Parse(ReadOnlyMemory<byte> bytes, string file) => FromFile(SafeTensors.Parse(bytes, file), file);

    /// <summary>Every problem with the content is a <see cref="CheckpointException"/> (or, below it, a
    /// <see cref="SafeTensorsException"/>); nothing it holds is believed before it is checked.</summary>
    static Checkpoint FromFile((Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) read, string file)
    {
        var (tensors, metadata) = read;
        CheckpointException Error(string what) => new($"{file}: {what}");
        string Get(string key) => metadata.TryGetValue(key, out var v) ? v : throw Error($"no {key} in its metadata");
        T Parse<T>(string key) where T : IParsable<T> =>
            T.TryParse(Get(key), CultureInfo.InvariantCulture, out var v) ? v : throw Error($"metadata {key} is not a valid {typeof(T).Name}: {Get(key)}");
        T FromJson<T>(string key, JsonSerializerOptions options)
        {
            try { return JsonSerializer.Deserialize<T>(Get(key), options) ?? throw new JsonException("null"); }
            catch (JsonException e) { throw Error($"metadata {key} is not valid JSON ({e.Message.ReplaceLineEndings(" ")})"); }
        }
        int NonNegative(string key)
        {
            int v = Parse<int>(key);
            return v >= 0 ? v : throw Error($"metadata {key} is negative: {v}");
        }

        if (!metadata.TryGetValue("format", out var format) || format != Format)
            throw Error($"not a gpuae checkpoint (metadata format is {format ?? "missing"}, expected {Format})");
        if (Get("format_version") != FormatVersion.ToString(CultureInfo.InvariantCulture))
            throw Error($"checkpoint format version {Get("format_version")}; this gpuae reads version {FormatVersion}");
        // Before anything else is believed: a flipped bit must not pass as a plausible state.
        var computed = Checksum(metadata, tensors.Values);
        if (Get("checksum") != computed)
            throw Error($"checksum mismatch, the file is corrupted (stored {Get("checksum")}, computed {computed})");

        var options = FromJson<TrainingOptions>("config", Json);
        if (options.Problem() is { } problem) throw Error($"config does not validate ({problem})");
        // The bottleneck sizes every buffer below, so it is believed only once a tensor's data vouches for it.
        if (Architecture.BottleneckOf(tensors) != options.Bottleneck)
            throw Error($"config's bottleneck {options.Bottleneck} does not match tensor {Architecture.BottleneckTensor} (expected shape [{options.Bottleneck},{Architecture.Hidden}])");
        var layout = new ParameterLayout(new Architecture(options.Bottleneck));
        var flats = Prefixes.Select(prefix => layout.FromTensors(tensors, what => Error(what), prefix)).ToArray();
        int images = Parse<int>("images");
        if (images < 1 || options.Limit is { } limit && images > limit)
            throw Error($"metadata images is {images}, which no run limited to {options.Limit?.ToString(CultureInfo.InvariantCulture) ?? "no"} images trains on");
        int batches = (int)((images + (long)options.BatchSize - 1) / options.BatchSize);
        int batch = NonNegative("batch");
        if (batch >= batches)
            throw Error($"metadata batch is {batch}, but an epoch of {images} images has {batches} batches of {options.BatchSize}");
        var losses = tensors.TryGetValue(LossesTensor, out var l) && l.Shape.Length == 1 && l.Data.Length == batch
            ? l.Data : throw Error($"tensor {LossesTensor} must hold the {batch} losses of the epoch in progress");
        long step = Parse<long>("step");
        if (step < 0) throw Error($"metadata step is negative: {step}");
        var history = FromJson<List<EpochRecord>>("history", HistoryJson);
        if (history.Any(h => h is null)) throw Error("metadata history holds a null epoch");

        var state = new TrainerState(flats[0], flats[1], flats[2], step, Parse<ulong>("shuffle_state"), NonNegative("epoch"), batch, losses);
        return new Checkpoint(state, options, images, metadata.GetValueOrDefault("init"), Get("dataset_sha256"),
            Get("accelerator"), Get("device"), Get("schedule"), history)
        {
            CheckpointEvery = !metadata.ContainsKey("checkpoint_every") ? 1
                : Parse<int>("checkpoint_every") is >= 1 and var every ? every : throw Error($"metadata checkpoint_every must be at least 1, got {Get("checkpoint_every")}"),
            Precision = !metadata.TryGetValue("precision", out var precision) ? Precision.Fp32
                : Precisions.Parse(precision) ?? throw Error($"metadata precision must be fp32 or tf32, got {precision}"),
        };
    }

    static readonly JsonSerializerOptions HistoryJson = new() { RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true };

    /// <summary>
    /// "sha256:" and the hex SHA-256 over every metadata entry but the checksum (sorted by key:
    /// key, 0, value, 0 in UTF-8) and then every tensor (sorted by name: name, 0, each dimension
    /// as a little-endian int64, the F32 values little-endian).
    /// </summary>
    static string Checksum(IReadOnlyDictionary<string, string> metadata, IEnumerable<Tensor> tensors)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Text(string s)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(s));
            sha.AppendData([0]);
        }
        foreach (var (key, value) in metadata.Where(m => m.Key != "checksum").OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            Text(key);
            Text(value);
        }
        Span<byte> dim = stackalloc byte[8];
        foreach (var t in tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            Text(t.Name);
            foreach (var d in t.Shape)
            {
                BinaryPrimitives.WriteInt64LittleEndian(dim, d);
                sha.AppendData(dim);
            }
            if (BitConverter.IsLittleEndian) sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.Data.AsSpan()));
            else
            {
                var bytes = new byte[4 * t.Data.Length];
                for (int i = 0; i < t.Data.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), t.Data[i]);
                sha.AppendData(bytes);
            }
        }
        return "sha256:" + Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    sealed record LearningRateSchedule(string Kind, double InitialLr, double Gamma, int NextEpoch, double NextLr);
}
