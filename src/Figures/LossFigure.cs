using GpuAutoencoder.Training;

namespace GpuAutoencoder.Figures;

/// <summary>The loss plot of a run, from its metrics: train loss per epoch and, where recorded, the test MSE.</summary>
public static class LossFigure
{
    public static IReadOnlyList<Series> Series(RunMetrics metrics)
    {
        var series = new List<Series> { new("train loss (mean of batch MSEs)", metrics.Epochs.Select(e => e.Loss).ToList()) };
        if (metrics.Epochs.Any(e => e.TestMse.HasValue))
            series.Add(new("test MSE (end of epoch)", metrics.Epochs.Select(e => e.TestMse ?? double.NaN).ToList()));
        return series;
    }

    public static string Title(RunMetrics metrics) =>
        $"gpuae training loss (z={metrics.Config.Bottleneck}, {metrics.Config.Images} images)";

    public static void Save(string path, RunMetrics metrics) => LossPlot.Save(path, Title(metrics), Series(metrics));
}
