using System.Globalization;
using System.Text.Json.Serialization;

namespace GpuAutoencoder.Training.Sweep;

/// <summary>One configuration of a sweep: the values of the list-valued options; every other option is the sweep's.</summary>
public sealed record SweepRun(int Bottleneck, ulong Seed, int Batch, double LearningRate)
{
    static readonly TrainingOptions Defaults = new();

    /// <summary>
    /// The run's folder name: z8-seed0, with -b256 and -lr0.003 only where batch and lr differ from
    /// train's defaults. Names depend on the run alone, not on the rest of the grid, so that adding
    /// values to a grid later leaves the folders of the earlier runs where they are.
    /// </summary>
    public string Name =>
        $"z{Bottleneck}-seed{Seed}"
        + (Batch != Defaults.BatchSize ? $"-b{Batch}" : "")
        + (LearningRate != Defaults.LearningRate ? "-lr" + LearningRate.ToString("R", CultureInfo.InvariantCulture) : "");

    /// <summary>The options train would run this configuration with.</summary>
    public TrainingOptions Options(SweepSettings settings, int? limit) => new()
    {
        Epochs = settings.Epochs,
        BatchSize = Batch,
        Bottleneck = Bottleneck,
        LearningRate = LearningRate,
        Gamma = settings.Gamma,
        Seed = Seed,
        Shuffle = settings.Shuffle,
        Limit = limit,
    };
}

/// <summary>The value lists of a sweep; the grid is their product.</summary>
public sealed record SweepGrid(
    [property: JsonPropertyName("bottleneck")] IReadOnlyList<int> Bottlenecks,
    [property: JsonPropertyName("seeds")] IReadOnlyList<ulong> Seeds,
    [property: JsonPropertyName("batch")] IReadOnlyList<int> Batches,
    [property: JsonPropertyName("lr")] IReadOnlyList<double> LearningRates)
{
    /// <summary>
    /// Every configuration in one canonical order (bottleneck, batch, lr, seed, each ascending),
    /// whatever order the lists were typed in: shards are cut from this order, so every machine that
    /// is given the same grid agrees on which runs are whose.
    /// </summary>
    public IReadOnlyList<SweepRun> Runs =>
        (from z in Bottlenecks from b in Batches from lr in LearningRates from s in Seeds select new SweepRun(z, s, b, lr))
        .OrderBy(r => r, RunOrder).ToList();

    /// <summary>The same grid whatever the order of its lists, for comparing grids.</summary>
    public SweepGrid Sorted() => new(Bottlenecks.Order().ToList(), Seeds.Order().ToList(), Batches.Order().ToList(), LearningRates.Order().ToList());

    public bool SameAs(SweepGrid other)
    {
        SweepGrid a = Sorted(), b = other.Sorted();
        return a.Bottlenecks.SequenceEqual(b.Bottlenecks) && a.Seeds.SequenceEqual(b.Seeds)
            && a.Batches.SequenceEqual(b.Batches) && a.LearningRates.SequenceEqual(b.LearningRates);
    }

    public static readonly IComparer<SweepRun> RunOrder = Comparer<SweepRun>.Create((x, y) =>
    {
        int c = x.Bottleneck.CompareTo(y.Bottleneck);
        if (c == 0) c = x.Batch.CompareTo(y.Batch);
        if (c == 0) c = x.LearningRate.CompareTo(y.LearningRate);
        if (c == 0) c = x.Seed.CompareTo(y.Seed);
        return c;
    });
}

/// <summary>Shard <see cref="Index"/> of <see cref="Count"/> (counted from 1): every Count-th run of the canonical order.</summary>
public sealed record Shard(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("count")] int Count)
{
    /// <summary>Round-robin rather than contiguous blocks, so that each shard gets a mix of small and large bottlenecks.</summary>
    public IReadOnlyList<SweepRun> Select(IReadOnlyList<SweepRun> runs) =>
        runs.Where((_, k) => k % Count == Index - 1).ToList();

    public string FileName => $"shard-{Index}-of-{Count}.json";

    public override string ToString() => $"{Index}/{Count}";
}

/// <summary>
/// What every run of a sweep shares and a later call on the same folder must not contradict:
/// the fixed training options and the exact training images.
/// </summary>
public sealed record SweepSettings(
    [property: JsonPropertyName("epochs")] int Epochs,
    [property: JsonPropertyName("gamma")] double Gamma,
    [property: JsonPropertyName("shuffle")] bool Shuffle,
    [property: JsonPropertyName("images")] int Images,
    [property: JsonPropertyName("dataset_sha256")] string DatasetSha256)
{
    /// <summary>The first property that differs from <paramref name="earlier"/>'s, by name, or null.</summary>
    public string? FirstDifference(SweepSettings earlier) =>
        Epochs != earlier.Epochs ? nameof(Epochs)
        : Gamma != earlier.Gamma ? nameof(Gamma)
        : Shuffle != earlier.Shuffle ? nameof(Shuffle)
        : Images != earlier.Images ? nameof(Images)
        : DatasetSha256 != earlier.DatasetSha256 ? nameof(DatasetSha256)
        : null;
}
