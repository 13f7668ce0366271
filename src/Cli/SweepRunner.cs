using System.Diagnostics;
using System.Globalization;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Sweep;

namespace GpuAutoencoder.Cli;

/// <summary>
/// Trains a sweep's unfinished runs one after another on one accelerator, each as gpuae train would,
/// and rewrites the summary after each; a stop leaves the summary of the runs finished so far.
/// </summary>
public sealed class SweepRunner(SweepPlan plan, SweepSettings settings, SweepFolder folder, SweepEvaluator evaluator, ITrainingProgress display)
{
    const string ResumeCommand = "the same gpuae sweep command (finished runs are kept, unfinished ones continue from their checkpoints)";
    readonly Dictionary<string, SweepRow> rows = [];

    /// <summary>Returns sweep's exit code: 0, 1 when a run failed (the others still train), or 130 when stopped.</summary>
    public int Train(DeviceKernels kernels, TrainingData data, IReadOnlyList<SweepFolder.RunOnDisk> toTrain)
    {
        foreach (var done in folder.Runs.Where(r => r.State == SweepFolder.State.Finished))
            rows[done.Run.Name] = folder.EarlierRows.TryGetValue(done.Run.Name, out var row) && row.Config == done.Run
                ? row : evaluator.Row(done.Run, done.ModelPath, done.Metrics!);

        using var stop = new StopSignal();
        var clock = Stopwatch.StartNew();
        long epochsToTrain = toTrain.Sum(r => plan.Epochs - (r.Checkpoint?.State.Epoch ?? 0)), epochsTrained = 0;
        int failed = 0;
        int? stopped = display.Run<int?>(() =>
        {
            for (int k = 0; k < toTrain.Count; k++)
            {
                var (run, dir, resumed) = (toTrain[k].Run, toTrain[k].Dir, toTrain[k].Checkpoint);
                if (resumed != null) RunFolder.CheckDataset(resumed, data.Train, data.Dir);
                // A resumed run continues with its checkpoint's options, which the folder check found to agree with the sweep's.
                var runPlan = new RunPlan(resumed?.Options ?? run.Options(settings, plan.Limit), dir, plan.CheckpointEvery, ResumeCommand) { Resumed = resumed };
                // The live bar follows the run in training; each finished run gets a line above it.
                var hooks = new TrainingRun.Hooks(stop, new RunDisplay(display), _ => epochsTrained++);
                var outcome = new TrainingRun(kernels, runPlan, hooks).Run(data.Train, data.Test);
                if (outcome is RunOutcome.Interrupted or RunOutcome.StoppedBeforeTraining)
                {
                    WriteSummary();
                    // A stop that lands before the next run's first batch leaves that run untouched: nothing was in flight.
                    display.Note($"sweep interrupted: {rows.Count} of {folder.Runs.Count} runs finished, " +
                        (outcome == RunOutcome.StoppedBeforeTraining ? "none in flight" : "the one in flight checkpointed") + "; run the same command again to continue");
                    return ExitCodes.Interrupted;
                }
                if (outcome == RunOutcome.Failed)
                {
                    failed++;
                    display.Note($"sweep: run {run.Name} failed (exit {ExitCodes.Failure}); the other runs go on");
                    continue;
                }
                var row = rows[run.Name] = evaluator.Row(run, runPlan.SavePath, RunMetrics.Load(Path.Combine(dir, RunFolder.Metrics)));
                WriteSummary();
                double left = epochsTrained == 0 ? 0 : clock.Elapsed.TotalSeconds / epochsTrained * (epochsToTrain - epochsTrained);
                display.Epoch(string.Create(CultureInfo.InvariantCulture,
                    $"run {k + 1,3}/{toTrain.Count} {run.Name,-22} loss {row.FinalTrainLoss:F6}  {row.EvalSplit} MSE {row.TestMse:F6}  active {row.ActiveUnits}/{row.Bottleneck}  {row.TrainSeconds,7:F1} s" +
                    $"  | {rows.Count}/{folder.Runs.Count} done, ETA {Duration(left)}"), row.FinalTrainLoss, row.TestMse);
                if (stop.Token.IsCancellationRequested)
                {
                    display.Note($"sweep interrupted between runs: {rows.Count} of {folder.Runs.Count} runs finished; run the same command again to continue");
                    return ExitCodes.Interrupted;
                }
            }
            return null;
        });
        if (stopped is { } code) return code;
        WriteSummary();
        return failed == 0 ? ExitCodes.Ok : ExitCodes.Failure;
    }

    void WriteSummary()
    {
        if (plan.Shard is { } s)
        {
            new ShardSummary(settings, plan.Grid.Sorted(), s, rows.Count == folder.Runs.Count, SweepSummary.Ordered(rows.Values))
                .Save(Path.Combine(plan.Out, s.FileName));
            return;
        }
        // Runs of an earlier, different grid in this folder stay in the summary beside the new ones.
        var all = folder.EarlierRows.Values.Where(r => !rows.ContainsKey(r.Run)).Concat(rows.Values);
        SweepFolder.WriteSummary(plan.Out, new SweepSummary(settings, SweepSummary.Ordered(all)));
    }

    /// <summary>
    /// What one run of the sweep shows on the sweep's display: its progress inside each epoch on the
    /// bar, and its notes (an error, an interruption); not a line per epoch, since the sweep writes one
    /// line per run. The sweep holds the live display open across all its runs.
    /// </summary>
    sealed class RunDisplay(ITrainingProgress sweep) : ITrainingProgress
    {
        public T Run<T>(Func<T> body) => body();
        public void Batch(BatchProgress p, int epochs) => sweep.Batch(p, epochs);
        public void Epoch(string text, double loss, double? testMse) { }
        public void Note(string text) => sweep.Note(text);
    }

    static string Duration(double seconds) =>
        !double.IsFinite(seconds) ? "?" : seconds < 120 ? $"{seconds:F0} s" : seconds < 7200 ? $"{seconds / 60:F1} min" : $"{seconds / 3600:F1} h";
}
