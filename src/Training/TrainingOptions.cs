namespace GpuAutoencoder.Training;

/// <summary>The lab's hyper-parameters, as defaults.</summary>
public sealed record TrainingOptions
{
    public int Epochs { get; init; } = 50;
    public int BatchSize { get; init; } = 2048;
    public int Bottleneck { get; init; } = 8;
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Exponential decay per epoch: epoch e (counted from 0) trains at LearningRate·Gammaᵉ.</summary>
    public double Gamma { get; init; } = 0.95;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>Seeds the initial weights and the shuffle.</summary>
    public ulong Seed { get; init; } = 0;
    public bool Shuffle { get; init; } = true;
    /// <summary>Train on the first Limit images only.</summary>
    public int? Limit { get; init; }

    public double LearningRateAt(int epoch) => LearningRate * Math.Pow(Gamma, epoch);

    /// <summary>The first value that cannot train, as the property that holds it and what is wrong with it, or null when every value can.</summary>
    public (string Field, string Problem)? Invalid()
    {
        if (Epochs < 0) return (nameof(Epochs), $"must be 0 or more, got {Epochs}");
        if (BatchSize < 1) return (nameof(BatchSize), $"must be at least 1, got {BatchSize}");
        if (Bottleneck < 1) return (nameof(Bottleneck), $"must be at least 1, got {Bottleneck}");
        if (!(double.IsFinite(LearningRate) && LearningRate > 0)) return (nameof(LearningRate), $"must be a finite number above 0, got {LearningRate}");
        if (!(double.IsFinite(Gamma) && Gamma > 0)) return (nameof(Gamma), $"must be a finite number above 0, got {Gamma}");
        if (Limit is < 1) return (nameof(Limit), $"must be at least 1, got {Limit}");
        return null;
    }

    /// <summary><see cref="Invalid"/> as one line, "Field: what is wrong", or null.</summary>
    public string? Problem() => Invalid() is { } p ? $"{p.Field}: {p.Problem}" : null;

    /// <summary>For code handed options that the CLI or a checkpoint reader has already checked with
    /// <see cref="Problem"/>: a value that cannot train here is a bug, so this throws ArgumentException.</summary>
    public void Validate()
    {
        if (Problem() is { } problem) throw new ArgumentException(problem);
    }
}

/// <summary>
/// One epoch, finished unless a stop request cut it short. Epochs are numbered from 1 here; the learning rate
/// is the one the epoch trained at; the loss is the mean over the batches done (NaN when none was).
/// </summary>
public sealed record EpochResult(int Epoch, double Loss, double LearningRate, double Seconds, double ImagesPerSecond)
{
    public int Batches { get; init; }
    public int BatchesDone { get; init; }
    public bool Complete => BatchesDone == Batches;
}

/// <summary>Progress inside an epoch.</summary>
public sealed record BatchProgress(int Epoch, int BatchesDone, int Batches, double Seconds, double ImagesPerSecond)
{
    public double EtaSeconds => BatchesDone == 0 ? double.NaN : Seconds / BatchesDone * (Batches - BatchesDone);
}
