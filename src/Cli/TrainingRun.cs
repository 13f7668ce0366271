using System.Globalization;
using GpuAutoencoder.Figures;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Cli;

/// <summary>
/// One training run into its folder on an accelerator already started: what gpuae train does after
/// checking its input, and what gpuae sweep does for every run of its grid, so that both write the
/// same files and the same weights for the same plan. What keeps a run from losing work: a checkpoint
/// every <see cref="RunPlan.CheckpointEvery"/> epochs and after the last, a checkpoint on Ctrl-C or
/// SIGTERM, no checkpoint over the last good one once the loss is not finite, and the last good
/// checkpoint kept when a write fails (a full disk), since every file is replaced whole or not at all.
/// </summary>
public sealed class TrainingRun(DeviceKernels kernels, RunPlan plan, TrainingRun.Hooks hooks)
{
    /// <summary>How the run talks and stops.</summary>
    /// <param name="Stop">The process's stop request (Ctrl-C, SIGTERM), shared with the caller.</param>
    /// <param name="Display">Progress, epoch lines and notes.</param>
    /// <param name="EpochDone">Also receives each finished epoch (a sweep shows its own progress over its runs).</param>
    public sealed record Hooks(StopSignal Stop, ITrainingProgress Display, Action<EpochResult>? EpochDone = null);

    readonly ITrainingProgress display = hooks.Display;
    string CheckpointPath => Path.Combine(plan.OutDir, Checkpoint.FileName);
    // Where the checkpoint on disk stands, as the messages say it; null while there is none.
    string? kept = plan.Resumed == null ? null : Where(plan.Resumed);

    static string Where(Checkpoint c) => c.State.Batch == 0 ? $"after epoch {c.State.Epoch}" : $"in epoch {c.State.Epoch + 1} after batch {c.State.Batch}";

    /// <summary>
    /// Trains on <paramref name="set"/>, measuring <paramref name="test"/> after each epoch, and writes the
    /// checkpoint, then the weights, metrics.json and the loss plot. The folder is not touched before the
    /// accelerator holds the run, so a run stopped or refused before its first batch leaves it as it was.
    /// </summary>
    public RunOutcome Run(MnistSet set, MnistSet? test)
    {
        var (options, resumed) = (plan.Options, plan.Resumed);
        var layout = new ParameterLayout(new Architecture(options.Bottleneck));
        string acceleratorName = Accelerators.Name(kernels.Accelerator.AcceleratorType);
        var metrics = new RunMetrics
        {
            Config = RunConfig.From(options, set.Count, resumed?.Init ?? plan.InitPath),
            Accelerator = acceleratorName,
            Device = kernels.Accelerator.Name,
            Schedule = kernels.Schedule.Name,
            Parameters = layout.Architecture.ParameterCount,
            DatasetSha256 = set.Sha256,
            Epochs = [.. resumed?.History ?? []],
        };
        using var trainer = new DeviceTrainer(kernels, layout, set.Images, set.Count, options, plan.Initial ?? layout.Initialize(options.Seed))
        {
            ReplaySteps = plan.ReplaySteps,
        };
        int imageCount = set.Count;
        if (resumed != null) trainer.ImportState(resumed.State);
        if (hooks.Stop.Token.IsCancellationRequested) return RunOutcome.StoppedBeforeTraining;
        // Only now, with the accelerator and its memory in hand, does the run change its folder.
        Directory.CreateDirectory(plan.OutDir);
        RunFolder.Clear(plan.OutDir, earlierRun: resumed == null);

        using var monitor = test == null ? null : new TestSetMonitor(kernels, layout, test.Images, test.Count);
        // The device holds both image sets from here on: let the collector have the host copies
        // (55 MB for MNIST) instead of carrying them through the whole run.
        (set, test) = (null!, null);
        Checkpoint Snapshot() => new(trainer.ExportState(), options, imageCount, resumed?.Init ?? plan.InitPath, metrics.DatasetSha256,
            acceleratorName, kernels.Accelerator.Name, kernels.Schedule.Name, metrics.Epochs.ToList())
            { CheckpointEvery = plan.CheckpointEvery, Precision = kernels.Precision };
        var outcome = display.Run(() => TrainEpochs(trainer, metrics, monitor, Snapshot));
        return outcome == RunOutcome.Finished ? WriteOutputs(layout, trainer.DownloadParameters(), metrics) : outcome;
    }

    RunOutcome TrainEpochs(DeviceTrainer trainer, RunMetrics metrics, TestSetMonitor? monitor, Func<Checkpoint> snapshot)
    {
        int epochs = plan.Options.Epochs;
        hooks.Stop.Then = "stopping after the current batch to write a checkpoint";
        var progress = new InlineProgress<BatchProgress>(p => display.Batch(p, epochs));
        bool pathNoted = false;
        try
        {
            while (trainer.Epoch < epochs)
            {
                var r = trainer.TrainEpoch(trainer.Epoch, progress, hooks.Stop.Token);
                if (!r.Complete)
                {
                    SaveCheckpoint(snapshot());
                    display.Note($"interrupted in epoch {r.Epoch}/{epochs} after batch {r.BatchesDone}/{r.Batches}; checkpoint written to {CheckpointPath}");
                    display.Note($"resume with: {plan.ResumeCommand}");
                    return RunOutcome.Interrupted;
                }
                // A CUDA run that could not capture its step still trains, only slower: say so once, and why.
                if (!pathNoted && plan.ReplaySteps && kernels.Accelerator.AcceleratorType == ILGPU.Runtime.AcceleratorType.Cuda && trainer.StepPath is { } path && path != ReplayableWork.GraphPath)
                {
                    display.Note($"gpuae: warning: training steps run as {path}; they are slower than a replayed CUDA graph");
                    pathNoted = true;
                }
                double? testMse = monitor?.Measure(trainer.Parameters);
                display.Epoch(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {r.Epoch,3}/{epochs}  loss {r.Loss:F6}  test {testMse?.ToString("F6", CultureInfo.InvariantCulture) ?? "n/a"}  lr {r.LearningRate:E3}  {r.Seconds,6:F2} s  {r.ImagesPerSecond,8:F0} img/s"),
                    r.Loss, testMse);
                metrics.Epochs.Add(EpochRecord.From(r) with { TestMse = testMse });
                hooks.EpochDone?.Invoke(r);
                if (r.Epoch % plan.CheckpointEvery == 0 || r.Epoch == epochs) SaveCheckpoint(snapshot());
            }
            return RunOutcome.Finished;
        }
        catch (NonFiniteLossException e)
        {
            display.Note($"gpuae: error: {e.Message}{OptionNames.Remedy(e)}; " + (kept != null
                ? $"the last good checkpoint ({kept}) is kept in {CheckpointPath}"
                : "no checkpoint had been written yet"));
            return RunOutcome.Failed;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            display.Note($"gpuae: error: {e.Message.ReplaceLineEndings(" ")}; " + (kept != null
                ? $"the checkpoint {kept} is kept in {CheckpointPath}; {(e is DiskFullException ? "once the disk has room, " : "")}continue with: {plan.ResumeCommand}"
                : "no checkpoint had been written yet"));
            return RunOutcome.Failed;
        }
    }

    void SaveCheckpoint(Checkpoint c)
    {
        c.Save(CheckpointPath);
        kept = Where(c);
    }

    /// <summary>The weights, metrics.json (written here only, once the run is complete) and the loss plot.</summary>
    RunOutcome WriteOutputs(ParameterLayout layout, float[] parameters, RunMetrics metrics)
    {
        try
        {
            ModelFile.Save(plan.SavePath, layout, parameters);
            metrics.Save(Path.Combine(plan.OutDir, RunFolder.Metrics));
            LossFigure.Save(plan.PlotPath, metrics);
            return RunOutcome.Finished;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Training is done and checkpointed: a resume of the finished run trains nothing and writes these again.
            display.Note($"gpuae: error: {e.Message.ReplaceLineEndings(" ")}; " + (kept != null
                ? $"training finished, and its checkpoint {kept} is kept in {CheckpointPath}; " +
                  $"{(e is DiskFullException ? "once the disk has room, " : "")}write the outputs with: {plan.WriteOutputsCommand ?? plan.ResumeCommand}"
                : "no checkpoint was written"));
            return RunOutcome.Failed;
        }
    }
}
