using System.Globalization;
using GpuAutoencoder.Training;

namespace GpuAutoencoder.Cli;

/// <summary>
/// The epochs of gpuae train, with what keeps a run from losing work: a checkpoint every
/// <paramref name="checkpointEvery"/> epochs and after the last, a checkpoint and exit 130 on
/// Ctrl-C or SIGTERM, no checkpoint over the last good one once the loss is not finite, and exit 1
/// with the last good checkpoint kept when a write fails (a full disk).
/// </summary>
/// <param name="snapshot">The checkpoint of the current trainer state.</param>
/// <param name="testSet">Measures the test MSE after each epoch; null when there is no test split.</param>
/// <param name="display">Shows progress and the epoch lines; by default the plain lines on stdout and stderr.</param>
/// <param name="epochDone">Also receives each finished epoch (a sweep shows its own progress over its runs).</param>
/// <param name="resumeHint">The command that continues an interrupted run; train's own by default.</param>
public sealed class TrainLoop(DeviceTrainer trainer, TrainingOptions options, RunMetrics metrics, string outDir,
    int checkpointEvery, Func<Checkpoint> snapshot, TestSetMonitor? testSet = null, ITrainingProgress? display = null,
    Action<EpochResult>? epochDone = null, string? resumeHint = null)
{
    readonly ITrainingProgress display = display ?? new PlainProgress(Console.Out, Console.Error);

    string CheckpointPath => Path.Combine(outDir, Checkpoint.FileName);
    // Where the checkpoint on disk stands, as the messages say it; null while there is none.
    string? kept;

    static string Where(Checkpoint c) => c.State.Batch == 0 ? $"after epoch {c.State.Epoch}" : $"in epoch {c.State.Epoch + 1} after batch {c.State.Batch}";

    /// <summary>Trains up to options.Epochs and returns the exit code; <paramref name="resumed"/> is the checkpoint the run continues.</summary>
    public int Run(Checkpoint? resumed, StopSignal stop) => display.Run(() => RunEpochs(resumed, stop));

    int RunEpochs(Checkpoint? resumed, StopSignal stop)
    {
        kept = resumed == null ? null : Where(resumed);
        stop.Then = "stopping after the current batch to write a checkpoint";
        var progress = new InlineProgress<BatchProgress>(p => display.Batch(p, options.Epochs));
        try
        {
            while (trainer.Epoch < options.Epochs)
            {
                var r = trainer.TrainEpoch(trainer.Epoch, progress, stop.Token);
                if (!r.Complete)
                {
                    Save();
                    display.Note($"interrupted in epoch {r.Epoch}/{options.Epochs} after batch {r.BatchesDone}/{r.Batches}; " +
                        $"checkpoint written to {CheckpointPath}");
                    display.Note($"resume with: {resumeHint ?? $"gpuae train --resume {outDir}"}");
                    return ExitCodes.Interrupted;
                }
                double? testMse = testSet?.Measure(trainer.Parameters);
                display.Epoch(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {r.Epoch,3}/{options.Epochs}  loss {r.Loss:F6}  test {testMse?.ToString("F6", CultureInfo.InvariantCulture) ?? "n/a"}  lr {r.LearningRate:E3}  {r.Seconds,6:F2} s  {r.ImagesPerSecond,8:F0} img/s"),
                    r.Loss, testMse);
                metrics.Epochs.Add(EpochRecord.From(r) with { TestMse = testMse });
                epochDone?.Invoke(r);
                if (r.Epoch % checkpointEvery == 0 || r.Epoch == options.Epochs) Save();
            }
            return ExitCodes.Ok;
        }
        catch (NonFiniteLossException e)
        {
            display.Note($"gpuae: error: {e.Message}; " + (kept != null
                ? $"the last good checkpoint ({kept}) is kept in {CheckpointPath}"
                : "no checkpoint had been written yet"));
            return ExitCodes.Failure;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A write failed (a full disk, most likely): what is on disk is the last complete checkpoint,
            // because every file is replaced whole or not at all.
            display.Note($"gpuae: error: {e.Message.ReplaceLineEndings(" ")}; " + (kept != null
                ? $"the checkpoint {kept} is kept in {CheckpointPath}; {(e is Training.IO.DiskFullException ? "once the disk has room, " : "")}continue with: {resumeHint ?? $"gpuae train --resume {outDir}"}"
                : "no checkpoint had been written yet"));
            return ExitCodes.Failure;
        }
    }

    void Save()
    {
        var c = snapshot();
        c.Save(CheckpointPath);
        kept = Where(c);
        metrics.Save(Path.Combine(outDir, RunFolder.Metrics));
    }
}
