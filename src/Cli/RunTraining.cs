using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Training.Figures;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Cli;

/// <summary>
/// One training run into its folder on an accelerator already started: what gpuae train does after
/// checking its input, and what gpuae sweep does for every run of its grid, so that both write the
/// same files and the same weights for the same configuration.
/// </summary>
public static class RunTraining
{
    /// <summary>How a caller other than train wants the run to talk: per-epoch results instead of console lines, and its own stop.</summary>
    /// <param name="EpochDone">Replaces the epoch lines and the in-epoch progress line.</param>
    /// <param name="ResumeHint">The command that continues the run, printed when it is interrupted.</param>
    /// <param name="Stop">A stop request shared with the caller, instead of the loop's own Ctrl-C handler.</param>
    public sealed record Hooks(Action<EpochResult>? EpochDone, string? ResumeHint, CancellationToken? Stop);

    /// <summary>Trains <paramref name="options"/> from <paramref name="initial"/> (or continues <paramref name="resumed"/>)
    /// and writes the weights, metrics.json, the loss plot and the checkpoint; returns train's exit code.</summary>
    public static int Train(DeviceKernels kernels, string acceleratorName, MnistSet set, MnistSet? test, TrainingOptions options,
        float[] initial, Checkpoint? resumed, string? initPath, string outDir, string savePath, string plotPath, int checkpointEvery,
        Hooks? hooks = null)
    {
        var layout = new ParameterLayout(new Architecture(options.Bottleneck));
        var metrics = new RunMetrics
        {
            Config = RunConfig.From(options, set.Count, resumed?.Init ?? initPath),
            Accelerator = acceleratorName,
            Device = kernels.Accelerator.Name,
            Schedule = kernels.Schedule.Name,
            Parameters = layout.Architecture.ParameterCount,
            DatasetSha256 = set.Sha256,
        };
        metrics.Epochs.AddRange(resumed?.History ?? []);
        using var trainer = new DeviceTrainer(kernels, layout, set.Images, set.Count, options, initial);
        if (resumed != null) trainer.ImportState(resumed.State);
        // Only now, with the accelerator and its memory in hand, does the run touch its folder.
        Directory.CreateDirectory(outDir);
        RunFolder.Clear(outDir, earlierRun: resumed == null);

        using var monitor = test == null ? null : new TestSetMonitor(kernels, layout, test.Images, test.Count);
        var loop = new TrainLoop(trainer, options, metrics, outDir, checkpointEvery, () => new Checkpoint(trainer.ExportState(),
            options, set.Count, resumed?.Init ?? initPath, set.Sha256, acceleratorName, kernels.Accelerator.Name, kernels.Schedule.Name,
            metrics.Epochs.ToList()), monitor, hooks?.EpochDone, hooks?.ResumeHint);
        int exit = loop.Run(resumed?.State.Epoch, hooks?.Stop);
        if (exit != ExitCodes.Ok) return exit;

        ModelFile.Save(savePath, layout, trainer.DownloadParameters());
        metrics.Save(Path.Combine(outDir, RunFolder.Metrics));
        LossFigure.Save(plotPath, metrics);
        return ExitCodes.Ok;
    }
}
