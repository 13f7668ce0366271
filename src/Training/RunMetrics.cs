using System.Text.Json;
using System.Text.Json.Serialization;
using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.Training;

/// <summary>What a training run records in metrics.json: its configuration, where it ran, and every epoch.</summary>
public sealed class RunMetrics
{
    [JsonPropertyName("config")] public required RunConfig Config { get; init; }
    [JsonPropertyName("accelerator")] public required string Accelerator { get; init; }
    [JsonPropertyName("device")] public required string Device { get; init; }
    [JsonPropertyName("schedule")] public required string Schedule { get; init; }
    [JsonPropertyName("parameters")] public required int Parameters { get; init; }
    [JsonPropertyName("dataset_sha256")] public required string DatasetSha256 { get; init; }
    [JsonPropertyName("epochs")] public required List<EpochRecord> Epochs { get; init; }

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Reading is strict: a key renamed by a flipped bit must not load as a run with no epochs.</summary>
    static readonly JsonSerializerOptions ReadJson = new()
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    public static RunMetrics Load(string path) => Parse(File.ReadAllBytes(path), Path.GetFileName(path));

    /// <summary>A metrics.json file's bytes (UTF-8); every problem is a <see cref="MetricsFormatException"/> naming <paramref name="file"/>.</summary>
    public static RunMetrics Parse(ReadOnlySpan<byte> json, string file)
    {
        RunMetrics? metrics;
        try { metrics = JsonSerializer.Deserialize<RunMetrics>(json, ReadJson); }
        catch (JsonException e) { throw new MetricsFormatException($"{file}: not a gpuae metrics file ({e.Message.ReplaceLineEndings(" ")})"); }
        if (metrics == null) throw new MetricsFormatException($"{file}: not a gpuae metrics file (it holds null)");
        int bad = metrics.Epochs.FindIndex(e => e is null);
        if (bad >= 0) throw new MetricsFormatException($"{file}: epoch record {bad} is null");
        return metrics;
    }
}

public sealed record RunConfig(
    [property: JsonPropertyName("epochs")] int Epochs,
    [property: JsonPropertyName("batch")] int Batch,
    [property: JsonPropertyName("bottleneck")] int Bottleneck,
    [property: JsonPropertyName("lr")] double LearningRate,
    [property: JsonPropertyName("gamma")] double Gamma,
    [property: JsonPropertyName("seed")] ulong Seed,
    [property: JsonPropertyName("shuffle")] bool Shuffle,
    [property: JsonPropertyName("images")] int Images,
    [property: JsonPropertyName("init")] string? Init)
{
    public static RunConfig From(TrainingOptions o, int images, string? init) =>
        new(o.Epochs, o.BatchSize, o.Bottleneck, o.LearningRate, o.Gamma, o.Seed, o.Shuffle, images, init);
}

public sealed record EpochRecord(
    [property: JsonPropertyName("epoch")] int Epoch,
    [property: JsonPropertyName("loss")] double Loss,
    [property: JsonPropertyName("lr")] double LearningRate,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("images_per_second")] double ImagesPerSecond,
    // Absent from runs made before the test set was evaluated during training.
    [property: JsonPropertyName("test_mse"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? TestMse = null)
{
    public static EpochRecord From(EpochResult r) => new(r.Epoch, r.Loss, r.LearningRate, r.Seconds, r.ImagesPerSecond);
}
