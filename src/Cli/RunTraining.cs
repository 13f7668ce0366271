using GpuAutoencoder.Kernels;
using GpuAutoencoder.Figures;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Cli;

/// <summary>
/// One training run into its folder on an accelerator already started: what gpuae train does after
/// checking its input, and what gpuae sweep does for every run of its grid, so that both write the
/// same files and the same weights for the same configuration.
/// </summary>
public static class RunTraining
{
    /// <summary>How the run talks and stops.</summary>
    /// <param name="Stop">The process's stop request (Ctrl-C, SIGTERM), shared with the caller.</param>
    /// <param name="Display">Progress, epoch lines and notes.</param>
    /// <param name="EpochDone">Also receives each finished epoch.</param>
    /// <param name="ResumeHint">The command that continues the run, printed when it is interrupted.</param>
    public sealed record Hooks(StopSignal Stop, ITrainingProgress Display, Action<EpochResult>? EpochDone = null, string? ResumeHint = null);

    /// <summary>
    /// Trains <paramref name="options"/> from <paramref name="initial"/> (or continues <paramref name="resumed"/>)
    /// and writes the checkpoint, then the weights, metrics.json and the loss plot; returns train's exit code.
    /// A failed write of those last three throws (IOException, UnauthorizedAccessException) with the
    /// finished run's checkpoint on disk, so the caller can say how to write them again.
    /// </summary>
    public static int Train(DeviceKernels kernels, string acceleratorName, MnistSet set, MnistSet? test, TrainingOptions options,
        float[] initial, Checkpoint? resumed, string? initPath, string outDir, string savePath, string plotPath, int checkpointEvery,
        Hooks hooks)
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
            Epochs = [.. resumed?.History ?? []],
        };
        using var trainer = new DeviceTrainer(kernels, layout, set.Images, set.Count, options, initial);
        var (imageCount, datasetSha256) = (set.Count, metrics.DatasetSha256);
        if (resumed != null) trainer.ImportState(resumed.State);
        if (hooks.Stop.Token.IsCancellationRequested) return Stopped;
        // Only now, with the accelerator and its memory in hand, does the run change its folder.
        Directory.CreateDirectory(outDir);
        RunFolder.Clear(outDir, earlierRun: resumed == null);

        using var monitor = test == null ? null : new TestSetMonitor(kernels, layout, test.Images, test.Count);
        // The device holds both image sets from here on: let the collector have the host copies
        // (55 MB for MNIST) instead of carrying them through the whole run.
        (set, test) = (null!, null);
        var loop = new TrainLoop(trainer, options, metrics, outDir, checkpointEvery, () => new Checkpoint(trainer.ExportState(),
            options, imageCount, resumed?.Init ?? initPath, datasetSha256, acceleratorName, kernels.Accelerator.Name, kernels.Schedule.Name,
            metrics.Epochs.ToList()) { CheckpointEvery = checkpointEvery, Precision = kernels.Precision }, monitor, hooks.Display, hooks.EpochDone, hooks.ResumeHint);
        int exit = loop.Run(resumed, hooks.Stop);
        if (exit != ExitCodes.Ok) return exit;

        ModelFile.Save(savePath, layout, trainer.DownloadParameters());
        metrics.Save(Path.Combine(outDir, RunFolder.Metrics));
        LossFigure.Save(plotPath, metrics);
        return ExitCodes.Ok;
    }

    /// <summary>What <see cref="Train"/> returns when the stop request came before its first batch, with the folder untouched.</summary>
    public const int Stopped = -130;
}
