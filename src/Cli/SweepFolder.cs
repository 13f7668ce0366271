using GpuAutoencoder.Figures;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Sweep;

namespace GpuAutoencoder.Cli;

/// <summary>
/// What a sweep's --out folder already holds, read once before anything trains: the rows of its
/// earlier summaries, and for each run of this call whether it is finished, can continue from its
/// checkpoint, or starts fresh. A folder whose earlier sweep contradicts this one's fixed options or
/// data is refused.
/// </summary>
public sealed class SweepFolder
{
    public enum State { Fresh, Unfinished, Finished }

    /// <param name="Checkpoint">The run's checkpoint; null when it is fresh.</param>
    /// <param name="Metrics">Its metrics.json; set only when it is finished.</param>
    public sealed record RunOnDisk(SweepRun Run, string Dir, State State, Checkpoint? Checkpoint, RunMetrics? Metrics)
    {
        public string ModelPath => Path.Combine(Dir, RunFolder.Model);
    }

    /// <summary>The rows sweep.json and the shard summaries already hold, to be kept beside this call's.</summary>
    public IReadOnlyDictionary<string, SweepRow> EarlierRows { get; }
    /// <summary>The runs of this call (its shard), in grid order.</summary>
    public IReadOnlyList<RunOnDisk> Runs { get; }

    SweepFolder(IReadOnlyDictionary<string, SweepRow> earlierRows, IReadOnlyList<RunOnDisk> runs) => (EarlierRows, Runs) = (earlierRows, runs);

    /// <summary>Reads <paramref name="outDir"/>; every run of <paramref name="grid"/> with a checkpoint must agree with <paramref name="settings"/>.</summary>
    public static SweepFolder Load(string outDir, SweepSettings settings, IReadOnlyList<SweepRun> grid, IReadOnlyList<SweepRun> runs)
    {
        var rows = new Dictionary<string, SweepRow>();
        var checkpoints = new Dictionary<string, Checkpoint>();
        if (Directory.Exists(outDir))
        {
            void Check(SweepSettings earlier, string where)
            {
                if (OptionNames.Contradiction(settings, earlier) is { } c)
                    throw new UsageException($"{c.Option}: {c.Value} contradicts the sweep in {outDir} ({where} has {c.Earlier}); " +
                        "give it as before, or use another --out folder");
            }
            var summary = Path.Combine(outDir, SweepSummary.JsonFile);
            if (File.Exists(summary))
            {
                var s = Read(() => SweepSummary.Load(summary), "--out");
                Check(s.Settings, SweepSummary.JsonFile);
                foreach (var r in s.Runs) rows[r.Run] = r;
            }
            foreach (var path in Directory.EnumerateFiles(outDir, ShardSummary.Pattern).Order(StringComparer.Ordinal))
            {
                var s = Read(() => ShardSummary.Load(path), "--out");
                Check(s.Settings, Path.GetFileName(path));
                foreach (var r in s.Runs) rows.TryAdd(r.Run, r);
            }
            foreach (var run in grid)
            {
                var path = Path.Combine(outDir, run.Name, Checkpoint.FileName);
                if (!File.Exists(path)) continue;
                var c = checkpoints[run.Name] = Read(() => Checkpoint.Load(path), "--out");
                Check(new SweepSettings(c.Options.Epochs, c.Options.Gamma, c.Options.Shuffle, c.Images, c.DatasetSha256), $"run {run.Name}");
            }
        }
        return new(rows, runs.Select(r => OnDisk(r, Path.Combine(outDir, r.Name), checkpoints.GetValueOrDefault(r.Name), settings)).ToList());
    }

    /// <summary>Finished: train's files are all there for the sweep's epochs. Unfinished: a checkpoint to continue from.</summary>
    static RunOnDisk OnDisk(SweepRun run, string dir, Checkpoint? checkpoint, SweepSettings settings)
    {
        if (checkpoint == null) return new(run, dir, State.Fresh, null, null);
        var metricsPath = Path.Combine(dir, RunFolder.Metrics);
        if (File.Exists(Path.Combine(dir, RunFolder.Model)) && File.Exists(metricsPath) && RunMetrics.Load(metricsPath) is var metrics
            && metrics.Epochs.Count == settings.Epochs)
            return new(run, dir, State.Finished, checkpoint, metrics);
        return new(run, dir, State.Unfinished, checkpoint, null);
    }

    /// <summary>A sweep file or checkpoint that cannot be read is the user's to fix: one line naming <paramref name="option"/>.</summary>
    public static T Read<T>(Func<T> load, string option)
    {
        try { return load(); }
        catch (Exception e) when (e is SweepFileException or CheckpointException or SafeTensorsException or IOException)
        {
            throw new UsageException($"{option}: {e.Message}");
        }
    }

    /// <summary>sweep.json, sweep.csv and, once a run is in it, sweep.png.</summary>
    public static void WriteSummary(string outDir, SweepSummary summary)
    {
        summary.Save(Path.Combine(outDir, SweepSummary.JsonFile));
        AtomicFile.WriteAllText(Path.Combine(outDir, SweepSummary.CsvFile), summary.ToCsv());
        if (summary.Runs.Count > 0)
            SweepFigure.Save(Path.Combine(outDir, SweepSummary.FigureFile),
                $"gpuae sweep: test MSE by bottleneck ({summary.Runs.Count} runs, {summary.Settings.Epochs} epochs, {summary.Settings.Images} images)",
                summary.Runs);
    }
}
