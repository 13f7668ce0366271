using System.Globalization;
using GpuAutoencoder.Training;

namespace GpuAutoencoder.Cli;

/// <summary>
/// The epochs of gpuae train, with what keeps a run from losing work: a checkpoint every
/// <paramref name="checkpointEvery"/> epochs and after the last, a checkpoint and exit 130 on
/// Ctrl-C or SIGTERM, and no checkpoint over the last good one once the loss is not finite.
/// </summary>
/// <param name="snapshot">The checkpoint of the current trainer state.</param>
/// <param name="testSet">Measures the test MSE after each epoch; null when there is no test split.</param>
/// <param name="epochDone">When given, receives each finished epoch instead of the console lines (a sweep shows its own progress).</param>
/// <param name="resumeHint">The command that continues an interrupted run; train's own by default.</param>
public sealed class TrainLoop(DeviceTrainer trainer, TrainingOptions options, RunMetrics metrics, string outDir,
    int checkpointEvery, Func<Checkpoint> snapshot, TestSetMonitor? testSet = null, Action<EpochResult>? epochDone = null,
    string? resumeHint = null)
{
    string CheckpointPath => Path.Combine(outDir, Checkpoint.FileName);

    /// <summary>
    /// Trains up to options.Epochs and returns the exit code; <paramref name="lastCheckpointEpoch"/> is that of a resumed checkpoint.
    /// <paramref name="stopRequest"/>, when given, replaces the loop's own Ctrl-C handler (a sweep has one for all its runs).
    /// </summary>
    public int Run(int? lastCheckpointEpoch, CancellationToken? stopRequest = null)
    {
        using var signal = stopRequest == null ? new StopSignal() : null;
        var stop = stopRequest ?? signal!.Token;
        var line = new ProgressLine();
        var progress = epochDone != null ? null : new InlineProgress<BatchProgress>(p => line.Show(
            $"epoch {p.Epoch}/{options.Epochs}  batch {p.BatchesDone}/{p.Batches}  {p.ImagesPerSecond:F0} img/s  ETA {p.EtaSeconds:F0} s"));
        try
        {
            while (trainer.Epoch < options.Epochs)
            {
                var r = trainer.TrainEpoch(trainer.Epoch, progress, stop);
                line.Clear();
                if (!r.Complete)
                {
                    Save();
                    Console.Error.WriteLine($"interrupted in epoch {r.Epoch}/{options.Epochs} after batch {r.BatchesDone}/{r.Batches}; " +
                        $"checkpoint written to {CheckpointPath}");
                    Console.Error.WriteLine($"resume with: {resumeHint ?? $"gpuae train --resume {outDir}"}");
                    return ExitCodes.Interrupted;
                }
                double? testMse = testSet?.Measure(trainer.Parameters);
                if (epochDone == null) Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {r.Epoch,3}/{options.Epochs}  loss {r.Loss:F6}  test {testMse?.ToString("F6", CultureInfo.InvariantCulture) ?? "n/a"}  lr {r.LearningRate:E3}  {r.Seconds,6:F2} s  {r.ImagesPerSecond,8:F0} img/s"));
                metrics.Epochs.Add(EpochRecord.From(r) with { TestMse = testMse });
                epochDone?.Invoke(r);
                if (r.Epoch % checkpointEvery == 0 || r.Epoch == options.Epochs)
                {
                    Save();
                    lastCheckpointEpoch = r.Epoch;
                }
            }
            return ExitCodes.Ok;
        }
        catch (NonFiniteLossException e)
        {
            line.Clear();
            Console.Error.WriteLine($"gpuae: error: {e.Message}; " + (lastCheckpointEpoch is { } good
                ? $"the last good checkpoint (after epoch {good}) is kept in {CheckpointPath}"
                : "no checkpoint had been written yet"));
            return ExitCodes.Failure;
        }
    }

    void Save()
    {
        snapshot().Save(CheckpointPath);
        metrics.Save(Path.Combine(outDir, RunFolder.Metrics));
    }
}
