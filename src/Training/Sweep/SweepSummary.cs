using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.Training.Sweep;

/// <summary>
/// One finished run as sweep.json and sweep.csv show it. It holds no path but the run's folder name
/// and no shard number, so rows from different machines compare equal; timings are the fields
/// whose names contain "seconds".
/// </summary>
public sealed record SweepRow(
    [property: JsonPropertyName("run")] string Run,
    [property: JsonPropertyName("bottleneck")] int Bottleneck,
    [property: JsonPropertyName("seed")] ulong Seed,
    [property: JsonPropertyName("batch")] int Batch,
    [property: JsonPropertyName("lr")] double LearningRate,
    [property: JsonPropertyName("epochs")] int Epochs,
    [property: JsonPropertyName("final_train_loss")] double FinalTrainLoss,
    /// <summary>The MSE over every pixel of the evaluation split (the test split when the data has one).</summary>
    [property: JsonPropertyName("test_mse")] double TestMse,
    [property: JsonPropertyName("eval_split")] string EvalSplit,
    [property: JsonPropertyName("eval_images")] int EvalImages,
    /// <summary>Bottleneck units whose ReLU output is non-zero for at least one image of the evaluation split.</summary>
    [property: JsonPropertyName("active_units")] int ActiveUnits,
    [property: JsonPropertyName("dead_units")] IReadOnlyList<int> DeadUnits,
    /// <summary>The sum of the run's epoch times, over every process that trained it.</summary>
    [property: JsonPropertyName("train_seconds")] double TrainSeconds,
    [property: JsonPropertyName("eval_seconds")] double EvalSeconds)
{
    [JsonIgnore] public SweepRun Config => new(Bottleneck, Seed, Batch, LearningRate);
}

/// <summary>sweep.json: the settings every run shared and one row per run, in the grid's canonical order.</summary>
public sealed record SweepSummary(
    [property: JsonPropertyName("settings")] SweepSettings Settings,
    [property: JsonPropertyName("runs")] IReadOnlyList<SweepRow> Runs)
{
    public const string JsonFile = "sweep.json", CsvFile = "sweep.csv", FigureFile = "sweep.png";

    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static IReadOnlyList<SweepRow> Ordered(IEnumerable<SweepRow> rows) => rows.OrderBy(r => r.Config, SweepGrid.RunOrder).ToList();

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    public static SweepSummary Load(string path) => SweepFiles.Read<SweepSummary>(path);

    public static readonly string[] CsvColumns =
        ["run", "bottleneck", "seed", "batch", "lr", "epochs", "final_train_loss", "test_mse", "eval_split", "eval_images",
         "active_units", "dead_units", "train_seconds", "eval_seconds"];

    /// <summary>RFC 4180 CSV, invariant culture, full precision; dead units separated by ';' inside their field.</summary>
    public string ToCsv()
    {
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        var csv = new StringBuilder(string.Join(",", CsvColumns)).Append('\n');
        foreach (var r in Runs)
            csv.AppendJoin(",", [r.Run, $"{r.Bottleneck}", $"{r.Seed}", $"{r.Batch}", F(r.LearningRate), $"{r.Epochs}", F(r.FinalTrainLoss),
                F(r.TestMse), r.EvalSplit, $"{r.EvalImages}", $"{r.ActiveUnits}", string.Join(";", r.DeadUnits), F(r.TrainSeconds), F(r.EvalSeconds)])
                .Append('\n');
        return csv.ToString();
    }
}

/// <summary>
/// shard-i-of-N.json: what one shard of a sweep has finished. It names the whole grid and the
/// shard, so that a merge can tell whether its shards belong together and are all there.
/// </summary>
public sealed record ShardSummary(
    [property: JsonPropertyName("settings")] SweepSettings Settings,
    [property: JsonPropertyName("grid")] SweepGrid Grid,
    [property: JsonPropertyName("shard")] Shard Shard,
    [property: JsonPropertyName("complete")] bool Complete,
    [property: JsonPropertyName("runs")] IReadOnlyList<SweepRow> Runs)
{
    public const string Pattern = "shard-*-of-*.json";

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, SweepSummary.Json));

    public static ShardSummary Load(string path) => SweepFiles.Read<ShardSummary>(path);
}

public sealed class SweepFileException(string message) : Exception(message);

static class SweepFiles
{
    public static T Read<T>(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), SweepSummary.Json) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new SweepFileException($"{Path.GetFileName(path)} is not a valid {typeof(T).Name} ({e.Message.ReplaceLineEndings(" ")})");
        }
    }
}
