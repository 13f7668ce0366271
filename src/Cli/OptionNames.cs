using System.Globalization;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Sweep;

namespace GpuAutoencoder.Cli;

/// <summary>
/// The flags behind the libraries' fields: the libraries say which value is wrong, by the name of the
/// property that holds it, and the command line says it as the option the user typed.
/// </summary>
public static class OptionNames
{
    /// <summary>The first option of <paramref name="options"/> that cannot train, as a usage error naming its flag.</summary>
    public static void Check(TrainingOptions options)
    {
        if (options.Invalid() is { } p) throw new UsageException($"{Flag(p.Field)}: {p.Problem}");
    }

    static string Flag(string field) => field switch
    {
        nameof(TrainingOptions.Epochs) => "--epochs",
        nameof(TrainingOptions.BatchSize) => "--batch",
        nameof(TrainingOptions.Bottleneck) => "--bottleneck",
        nameof(TrainingOptions.LearningRate) => "--lr",
        nameof(TrainingOptions.Gamma) => "--gamma",
        nameof(TrainingOptions.Limit) => "--limit",
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, "no option sets this field"),
    };

    /// <summary>
    /// What the user can change for a failure the libraries report by what happened, in the flags
    /// that change it; empty where no option helps.
    /// </summary>
    public static string Remedy(Exception e) => e switch
    {
        DeviceMemoryException => "; try a smaller --batch or --limit",
        NonFiniteLossException => " (is --lr too high?)",
        _ => "",
    };

    /// <summary>The first setting in which <paramref name="now"/> contradicts <paramref name="earlier"/>, as (option, this value, earlier value), or null.</summary>
    public static (string Option, string Value, string Earlier)? Contradiction(SweepSettings now, SweepSettings earlier)
    {
        static string S(object o) => Convert.ToString(o, CultureInfo.InvariantCulture)!;
        return now.FirstDifference(earlier) switch
        {
            null => null,
            nameof(SweepSettings.Epochs) => ("--epochs", S(now.Epochs), S(earlier.Epochs)),
            nameof(SweepSettings.Gamma) => ("--gamma", S(now.Gamma), S(earlier.Gamma)),
            nameof(SweepSettings.Shuffle) => ("--no-shuffle", now.Shuffle ? "off" : "on", earlier.Shuffle ? "off" : "on"),
            nameof(SweepSettings.Images) => ("--limit", $"{now.Images} images", $"{earlier.Images} images"),
            _ => ("--data", $"data set SHA-256 {now.DatasetSha256}", $"SHA-256 {earlier.DatasetSha256}"),
        };
    }
}
