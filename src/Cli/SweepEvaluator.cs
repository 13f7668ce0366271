using System.Diagnostics;
using GpuAutoencoder.Figures;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Training.Model;
using GpuAutoencoder.Training.Sweep;

namespace GpuAutoencoder.Cli;

/// <summary>
/// Measures a finished run the way gpuae evaluate does (test MSE, active bottleneck units), from the
/// model file the run wrote, with the evaluation images uploaded once for the whole sweep.
/// </summary>
public sealed class SweepEvaluator(DeviceKernels kernels, MnistSet set, string split) : IDisposable
{
    readonly DeviceImages images = new(kernels, set.Images, set.Count);

    public SweepRow Row(SweepRun run, string modelPath, RunMetrics metrics)
    {
        var clock = Stopwatch.StartNew();
        var (layout, flat, _) = ModelFile.Load(modelPath, run.Bottleneck);
        using var model = new DeviceModel(kernels, layout, flat);
        var (errors, codes) = model.Evaluate(images);
        var e = Evaluation.From(errors, codes, set.Labels, Architecture.Pixels);
        var last = metrics.Epochs.Count > 0 ? metrics.Epochs[^1].Loss : double.NaN;
        return new SweepRow(run.Name, run.Bottleneck, run.Seed, run.Batch, run.LearningRate, metrics.Config.Epochs, last, e.Mse, split,
            e.Images, e.ActiveUnitCount, Enumerable.Range(0, e.ActiveUnits.Length).Where(u => !e.ActiveUnits[u]).ToList(),
            metrics.Epochs.Sum(x => x.Seconds), clock.Elapsed.TotalSeconds);
    }

    public void Dispose() => images.Dispose();
}
