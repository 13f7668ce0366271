using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Figures;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;
using GpuAutoencoder.Training.Sweep;

namespace GpuAutoencoder.Cli;

/// <summary>
/// gpuae sweep: every configuration of a grid trained as gpuae train would, each into its own run
/// folder under --out, with a summary (sweep.json, sweep.csv, sweep.png) over all of them; --shard
/// cuts the grid for cluster array jobs and --merge joins the shards' results.
/// </summary>
public static class SweepCommand
{
    static readonly TrainingOptions Defaults = new();

    public static Command Create()
    {
        var accelerator = CommonOptions.Accelerator();
        var bottleneck = new Option<string>("--bottleneck", "-z") { Description = "Bottleneck sizes, comma-separated (2,4,8).", DefaultValueFactory = _ => $"{Defaults.Bottleneck}" };
        var seeds = new Option<string>("--seeds") { Description = "Seeds: a list and/or ranges (0,1,7 or 0-4).", DefaultValueFactory = _ => $"{Defaults.Seed}" };
        var batch = new Option<string>("--batch", "-b") { Description = "Batch sizes, comma-separated.", DefaultValueFactory = _ => $"{Defaults.BatchSize}" };
        var lr = new Option<string>("--lr") { Description = "Adam learning rates, comma-separated.", DefaultValueFactory = _ => Defaults.LearningRate.ToString("R", CultureInfo.InvariantCulture) };
        var epochs = new Option<int>("--epochs", "-e") { Description = "Epochs per run.", DefaultValueFactory = _ => Defaults.Epochs };
        var gamma = new Option<double>("--gamma") { Description = "Learning-rate decay per epoch, for every run.", DefaultValueFactory = _ => Defaults.Gamma };
        var data = CommonOptions.Data();
        var limit = new Option<int?>("--limit") { Description = "Train every run on the first N images only." };
        var noShuffle = new Option<bool>("--no-shuffle") { Description = "Keep the data set's order in every run." };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Checkpoint each run every N epochs (and after its last).", DefaultValueFactory = _ => 1 };
        var outDir = new Option<string?>("--out", "-o") { Description = "The sweep's folder: one run folder per configuration (z8-seed0, with -b/-lr parts where those differ from train's defaults) and sweep.json, sweep.csv, sweep.png." };
        var shard = new Option<string?>("--shard") { Description = "Train only shard i of N (i counts from 1), a fixed share of the grid; writes shard-i-of-N.json instead of sweep.json." };
        var noQueue = new Option<bool>("--no-queue") { Description = "Refuse, rather than queue, runs beyond those the device can train at once." };
        var noProgress = new Option<bool>("--no-progress") { Description = "Plain progress lines instead of the live bar (the default when stderr is not a terminal)." };
        var merge = new Option<string[]>("--merge") { Description = "Join the finished shards in these folders into sweep.json/csv/png in --out.", AllowMultipleArgumentsPerToken = true };

        var command = new Command("sweep", "Train every combination of the listed bottlenecks, seeds, batch sizes and learning rates; summarise them in sweep.json, sweep.csv and sweep.png.")
        {
            accelerator, bottleneck, seeds, batch, lr, epochs, gamma, data, limit, noShuffle, checkpointEvery, outDir, shard, noQueue, noProgress, merge,
        };
        command.SetAction(parse => CommonOptions.Run(parse.GetValue(CommonOptions.Verbose), () =>
        {
            var given = command.Options.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToHashSet();
            string output = parse.GetValue(outDir) ?? throw new UsageException("--out: the sweep needs a folder (--out DIR)");
            if (given.Contains(merge.Name))
            {
                var alsoGiven = given.Except([merge.Name, outDir.Name, accelerator.Name, noProgress.Name]).ToList();
                if (alsoGiven.Count > 0) throw new UsageException($"{alsoGiven[0]}: cannot be combined with --merge, which only joins finished shards into --out");
                return Merge(parse.GetValue(merge) ?? [], output);
            }
            var grid = new SweepGrid(
                ParseList<int>(parse.GetValue(bottleneck)!, bottleneck.Name, ParseInt, v => v >= 1 ? null : $"must be at least 1, got {v}"),
                ParseSeeds(parse.GetValue(seeds)!, seeds.Name),
                ParseList<int>(parse.GetValue(batch)!, batch.Name, ParseInt, v => v >= 1 ? null : $"must be at least 1, got {v}"),
                ParseList<double>(parse.GetValue(lr)!, lr.Name, ParseDouble, v => double.IsFinite(v) && v > 0 ? null : $"must be a finite number above 0, got {v}"));
            var sweep = new SweepPlan(grid, ParseShard(parse.GetValue(shard)), parse.GetValue(epochs), parse.GetValue(gamma),
                !parse.GetValue(noShuffle), parse.GetValue(limit), parse.GetValue(checkpointEvery), parse.GetValue(noQueue));
            return Run(sweep, CommonOptions.ParseAccelerator(parse.GetValue(accelerator)!), parse.GetValue(data), output,
                TrainingProgress.For(parse.GetValue(noProgress)));
        }));
        return command;
    }

    sealed record SweepPlan(SweepGrid Grid, Shard? Shard, int Epochs, double Gamma, bool Shuffle, int? Limit, int CheckpointEvery, bool NoQueue);

    static bool ParseInt(string s, out int v) => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out v);
    static bool ParseDouble(string s, out double v) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v);
    internal delegate bool Parser<T>(string s, out T value);

    /// <summary>A comma-separated list: not empty, every item valid, no value twice.</summary>
    internal static IReadOnlyList<T> ParseList<T>(string text, string option, Parser<T> parse, Func<T, string?> check) where T : notnull
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries);
        if (items.All(i => i.Length == 0)) throw new UsageException($"{option}: the list is empty; give at least one value");
        var values = new List<T>();
        foreach (var item in items)
        {
            if (item.Length == 0) throw new UsageException($"{option}: empty item in '{text}'");
            if (!parse(item, out var v)) throw new UsageException($"{option}: '{item}' is not a valid number");
            if (check(v) is { } problem) throw new UsageException($"{option}: {problem}");
            if (values.Contains(v)) throw new UsageException($"{option}: {item} is listed twice");
            values.Add(v);
        }
        return values;
    }

    /// <summary>Seeds as a list of values and inclusive ranges: 0-4, 0,1,7, or 0-2,9.</summary>
    internal static IReadOnlyList<ulong> ParseSeeds(string text, string option)
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries);
        if (items.All(i => i.Length == 0)) throw new UsageException($"{option}: the list is empty; give at least one seed");
        var seeds = new List<ulong>();
        foreach (var item in items)
        {
            if (item.Length == 0) throw new UsageException($"{option}: empty item in '{text}'");
            var ends = item.Split('-', StringSplitOptions.TrimEntries);
            static bool Seed(string s, out ulong v) => ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
            if (ends.Length > 2 || !Seed(ends[0], out var from) || !Seed(ends[^1], out var to))
                throw new UsageException($"{option}: '{item}' is neither a seed nor a range like 0-4");
            if (to < from) throw new UsageException($"{option}: the range {item} runs backwards");
            if (to - from >= 100_000) throw new UsageException($"{option}: the range {item} holds more than 100000 seeds");
            for (ulong s = from; ; s++)
            {
                if (seeds.Contains(s)) throw new UsageException($"{option}: seed {s} is listed twice");
                seeds.Add(s);
                if (s == to) break;
            }
        }
        return seeds;
    }

    internal static Shard? ParseShard(string? text)
    {
        if (text == null) return null;
        var parts = text.Split('/');
        if (parts.Length != 2 || !ParseInt(parts[0], out int i) || !ParseInt(parts[1], out int n))
            throw new UsageException($"--shard: expected i/N such as 1/4, got '{text}'");
        if (n < 1 || i < 1 || i > n)
            throw new UsageException($"--shard: {text} is not a shard: i counts from 1 to N (1/{Math.Max(n, 1)} … {Math.Max(n, 1)}/{Math.Max(n, 1)})");
        return new Shard(i, n);
    }

    static int Run(SweepPlan plan, AcceleratorKind kind, string? dataOption, string outDir, ITrainingProgress display)
    {
        // As train does: every check before the accelerator starts and before --out is touched.
        if (plan.Epochs < 1) throw new UsageException($"--epochs: a sweep needs at least 1 epoch per run, got {plan.Epochs}");
        if (plan.CheckpointEvery < 1) throw new UsageException($"--checkpoint-every: must be at least 1, got {plan.CheckpointEvery}");
        var allRuns = plan.Grid.Runs;
        foreach (var run in allRuns) run.Options(new SweepSettings(plan.Epochs, plan.Gamma, plan.Shuffle, 1, ""), plan.Limit).Validate();
        var (set, dataDir) = DataCommand.Load(dataOption, MnistSplit.Train);
        if (plan.Limit is { } n)
        {
            if (n > set.Count) throw new UsageException($"--limit: {n} is more than the {set.Count} images in {dataDir}");
            set = set.Take(n);
        }
        var settings = new SweepSettings(plan.Epochs, plan.Gamma, plan.Shuffle, set.Count, set.Sha256);
        var runs = plan.Shard?.Select(allRuns) ?? allRuns;
        var earlierRows = CheckFolder(outDir, settings, allRuns);

        bool hasTest = Mnist.FileNames(MnistSplit.Test).All(f => Mnist.Find(dataDir, f) != null);
        var test = hasTest ? Mnist.Load(dataDir, MnistSplit.Test) : null;
        var states = runs.Select(r => (Run: r, State: RunState(Path.Combine(outDir, r.Name), settings))).ToList();
        var toTrain = states.Where(s => s.State != State.Finished).Select(s => s.Run).ToList();

        using var context = Accelerators.CreateContext();
        using var accelerator = Accelerators.Create(context, kind);
        using var kernels = new DeviceKernels(accelerator);
        string acceleratorName = Accelerators.Name(accelerator.AcceleratorType);
        int atOnce = RunsAtOnce(accelerator, toTrain, set.Count, test?.Count ?? 0);
        if (plan.NoQueue && toTrain.Count > atOnce)
            throw new UsageException($"--no-queue: {toTrain.Count} runs to train but {atOnce} fit on {acceleratorName} ({accelerator.Name}) at once; " +
                "leave out --no-queue to queue the rest, or shrink the grid or use --shard");

        Console.WriteLine($"sweep: {allRuns.Count} runs in the grid" + (plan.Shard is { } sh ? $", {runs.Count} in shard {sh}" : "") +
            $"; {runs.Count - toTrain.Count} already finished, {toTrain.Count} to train ({states.Count(s => s.State == State.Unfinished)} resumed from checkpoints)");
        Console.WriteLine($"accelerator: {acceleratorName} ({accelerator.Name}), schedule {kernels.Schedule.Name}; " +
            $"{atOnce} run{(atOnce == 1 ? "" : "s")} at a time; data: {set.Count} images from {dataDir}, {plan.Epochs} epochs per run; output in {outDir}");
        Directory.CreateDirectory(outDir);

        var evalSet = test ?? set;
        using var evaluator = new SweepEvaluator(kernels, evalSet, test != null ? "test" : "train");
        var rows = new Dictionary<string, SweepRow>();
        foreach (var (run, state) in states.Where(s => s.State == State.Finished))
            rows[run.Name] = earlierRows.TryGetValue(run.Name, out var row) && row.Config == run
                ? row : evaluator.Row(run, Path.Combine(outDir, run.Name, RunFolder.Model), RunMetrics.Load(Path.Combine(outDir, run.Name, RunFolder.Metrics)));

        void WriteSummary()
        {
            if (plan.Shard is { } s)
            {
                new ShardSummary(settings, plan.Grid.Sorted(), s, rows.Count == runs.Count, SweepSummary.Ordered(rows.Values))
                    .Save(Path.Combine(outDir, s.FileName));
                return;
            }
            // Runs of an earlier, different grid in this folder stay in the summary beside the new ones.
            var all = earlierRows.Values.Where(r => !rows.ContainsKey(r.Run)).Concat(rows.Values);
            WriteSweep(outDir, new SweepSummary(settings, SweepSummary.Ordered(all)));
        }

        using var stop = new StopSignal();
        var clock = Stopwatch.StartNew();
        long epochsToTrain = 0, epochsTrained = 0;
        foreach (var run in toTrain)
        {
            var checkpoint = Path.Combine(outDir, run.Name, Checkpoint.FileName);
            int done = File.Exists(checkpoint) ? Checkpoint.Load(checkpoint).State.Epoch : 0;
            epochsToTrain += plan.Epochs - done;
        }
        int failed = 0;
        int? stopped = display.Run<int?>(() =>
        {
            string resumeHint = "the same gpuae sweep command (finished runs are kept, unfinished ones continue from their checkpoints)";
            for (int k = 0; k < toTrain.Count; k++)
            {
                var run = toTrain[k];
                string dir = Path.Combine(outDir, run.Name);
                var options = run.Options(settings, plan.Limit);
                Checkpoint? resumed = null;
                if (File.Exists(Path.Combine(dir, Checkpoint.FileName)))
                {
                    (resumed, options) = RunFolder.Resume(dir, options, new HashSet<string>());
                    RunFolder.CheckDataset(resumed, set, dataDir);
                }
                var layout = new ParameterLayout(new Architecture(options.Bottleneck));
                // The live bar follows the run in training; each finished run gets a line above it.
                var hooks = new RunTraining.Hooks(stop, new RunDisplay(display), _ => epochsTrained++, resumeHint);
                int exit = RunTraining.Train(kernels, acceleratorName, set, test, options, layout.Initialize(options.Seed), resumed, null, dir,
                    Path.Combine(dir, RunFolder.Model), Path.Combine(dir, RunFolder.Plot), plan.CheckpointEvery, hooks);
                if (exit is ExitCodes.Interrupted or RunTraining.Stopped)
                {
                    WriteSummary();
                    // A stop that lands before the next run's first batch leaves that run untouched: nothing was in flight.
                    display.Note($"sweep interrupted: {rows.Count} of {runs.Count} runs finished, " +
                        (exit == RunTraining.Stopped ? "none in flight" : "the one in flight checkpointed") + "; run the same command again to continue");
                    return ExitCodes.Interrupted;
                }
                if (exit != ExitCodes.Ok)
                {
                    failed++;
                    display.Note($"sweep: run {run.Name} failed (exit {exit}); the other runs go on");
                    continue;
                }
                var row = evaluator.Row(run, Path.Combine(dir, RunFolder.Model), RunMetrics.Load(Path.Combine(dir, RunFolder.Metrics)));
                rows[run.Name] = row;
                WriteSummary();
                double left = epochsTrained == 0 ? 0 : clock.Elapsed.TotalSeconds / epochsTrained * (epochsToTrain - epochsTrained);
                display.Epoch(string.Create(CultureInfo.InvariantCulture,
                    $"run {k + 1,3}/{toTrain.Count} {run.Name,-22} loss {row.FinalTrainLoss:F6}  {row.EvalSplit} MSE {row.TestMse:F6}  active {row.ActiveUnits}/{row.Bottleneck}  {row.TrainSeconds,7:F1} s" +
                    $"  | {rows.Count}/{runs.Count} done, ETA {Duration(left)}"), row.FinalTrainLoss, row.TestMse);
                if (stop.Token.IsCancellationRequested)
                {
                    display.Note($"sweep interrupted between runs: {rows.Count} of {runs.Count} runs finished; run the same command again to continue");
                    return ExitCodes.Interrupted;
                }
            }
            return null;
        });
        if (stopped is { } code) return code;
        WriteSummary();
        Console.WriteLine(plan.Shard is { } mine
            ? $"wrote {Path.Combine(outDir, mine.FileName)}; when every shard is done: gpuae sweep --merge DIR... --out DIR"
            : $"wrote {Path.Combine(outDir, SweepSummary.JsonFile)}, {SweepSummary.CsvFile}, {SweepSummary.FigureFile}");
        return failed == 0 ? ExitCodes.Ok : ExitCodes.Failure;
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

    enum State { Fresh, Unfinished, Finished }

    /// <summary>Finished: train's files are all there for the sweep's epochs. Unfinished: a checkpoint to continue from.</summary>
    static State RunState(string dir, SweepSettings settings)
    {
        if (!Directory.Exists(dir)) return State.Fresh;
        var checkpoint = Path.Combine(dir, Checkpoint.FileName);
        if (File.Exists(Path.Combine(dir, RunFolder.Model)) && File.Exists(Path.Combine(dir, RunFolder.Metrics)) && File.Exists(checkpoint)
            && RunMetrics.Load(Path.Combine(dir, RunFolder.Metrics)).Epochs.Count == settings.Epochs)
            return State.Finished;
        return File.Exists(checkpoint) ? State.Unfinished : State.Fresh;
    }

    /// <summary>
    /// Refuses a folder whose earlier sweep contradicts this one's fixed options or data; returns the
    /// rows its summary files already hold, to be kept beside this call's.
    /// </summary>
    static Dictionary<string, SweepRow> CheckFolder(string outDir, SweepSettings settings, IReadOnlyList<SweepRun> runs)
    {
        var rows = new Dictionary<string, SweepRow>();
        if (!Directory.Exists(outDir)) return rows;
        void Check(SweepSettings earlier, string where)
        {
            if (settings.Contradiction(earlier) is { } c)
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
        foreach (var run in runs)
        {
            var checkpoint = Path.Combine(outDir, run.Name, Checkpoint.FileName);
            if (!File.Exists(checkpoint)) continue;
            var c = Read(() => Checkpoint.Load(checkpoint), "--out");
            Check(new SweepSettings(c.Options.Epochs, c.Options.Gamma, c.Options.Shuffle, c.Images, c.DatasetSha256), $"run {run.Name}");
        }
        return rows;
    }

    static T Read<T>(Func<T> load, string option)
    {
        try { return load(); }
        catch (Exception e) when (e is SweepFileException or CheckpointException or SafeTensorsException or IOException)
        {
            throw new UsageException($"{option}: {e.Message}");
        }
    }

    /// <summary>
    /// How many runs fit on the device at once, from the trainer's own memory formula for the largest
    /// run plus its share of test-set evaluation, leaving a tenth of the device free. The CPU
    /// accelerator trains one run at a time: its threads are all busy with one already.
    /// </summary>
    static int RunsAtOnce(ILGPU.Runtime.Accelerator accelerator, IReadOnlyList<SweepRun> runs, int images, int testImages)
    {
        if (accelerator.AcceleratorType == ILGPU.Runtime.AcceleratorType.CPU || runs.Count == 0) return 1;
        long perRun = runs.Max(r => DeviceTrainer.DeviceBytes(new ParameterLayout(new Architecture(r.Bottleneck)), images, r.Batch)
            + (long)testImages * (Architecture.Pixels + 8) + 4L * 1000 * (2 * Architecture.Pixels + 1024));
        return (int)Math.Clamp(accelerator.MemorySize / 10 * 9 / perRun, 1, runs.Count);
    }

    static void WriteSweep(string outDir, SweepSummary summary)
    {
        summary.Save(Path.Combine(outDir, SweepSummary.JsonFile));
        AtomicFile.WriteAllText(Path.Combine(outDir, SweepSummary.CsvFile), summary.ToCsv());
        if (summary.Runs.Count > 0)
            SweepFigure.Save(Path.Combine(outDir, SweepSummary.FigureFile),
                $"gpuae sweep: test MSE by bottleneck ({summary.Runs.Count} runs, {summary.Settings.Epochs} epochs, {summary.Settings.Images} images)",
                summary.Runs);
    }

    /// <summary>Joins finished shards: they must be one grid, one set of settings and data, every shard once, every run once.</summary>
    static int Merge(IReadOnlyList<string> dirs, string outDir)
    {
        if (dirs.Count == 0) throw new UsageException("--merge: name the shards' folders");
        var shards = new List<(string Path, ShardSummary Shard)>();
        foreach (var dir in dirs.Distinct())
        {
            if (!Directory.Exists(dir)) throw new UsageException($"--merge: folder {dir} does not exist");
            var files = Directory.EnumerateFiles(dir, ShardSummary.Pattern).Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) throw new UsageException($"--merge: {dir} holds no {ShardSummary.Pattern} (was it swept with --shard?)");
            shards.AddRange(files.Select(f => (f, Read(() => ShardSummary.Load(f), "--merge"))));
        }
        var (firstPath, first) = shards[0];
        foreach (var (path, s) in shards.Skip(1))
        {
            if (s.Settings.Contradiction(first.Settings) is { } c)
                throw new UsageException($"--merge: {path} was swept with {c.Option} {c.Value}, but {firstPath} with {c.Earlier}; shards of one sweep share their settings and data set");
            if (!s.Grid.SameAs(first.Grid))
                throw new UsageException($"--merge: {path} and {firstPath} belong to different grids");
            if (s.Shard.Count != first.Shard.Count)
                throw new UsageException($"--merge: {path} is a shard of {s.Shard.Count} but {firstPath} one of {first.Shard.Count}");
        }
        int count = first.Shard.Count;
        var byIndex = shards.GroupBy(s => s.Shard.Shard.Index).ToDictionary(g => g.Key, g => g.ToList());
        if (byIndex.Values.FirstOrDefault(g => g.Count > 1) is { } twice)
            throw new UsageException($"--merge: shard {twice[0].Shard.Shard} is given twice ({string.Join(", ", twice.Select(t => t.Path))})");
        var missing = Enumerable.Range(1, count).Where(i => !byIndex.ContainsKey(i)).ToList();
        if (missing.Count > 0) throw new UsageException($"--merge: shard {string.Join(", ", missing.Select(i => $"{i}/{count}"))} is missing");
        if (shards.FirstOrDefault(s => !s.Shard.Complete) is { Path: not null } unfinished)
            throw new UsageException($"--merge: {unfinished.Path} is not finished ({unfinished.Shard.Runs.Count} runs done); run that shard again to complete it");

        var rows = shards.SelectMany(s => s.Shard.Runs).ToList();
        var expected = first.Grid.Runs.Select(r => r.Name).ToHashSet();
        if (rows.GroupBy(r => r.Run).FirstOrDefault(g => g.Count() > 1) is { } dup)
            throw new UsageException($"--merge: run {dup.Key} appears in more than one shard");
        var stray = rows.Select(r => r.Run).Except(expected).ToList();
        var absent = expected.Except(rows.Select(r => r.Run)).ToList();
        if (stray.Count > 0 || absent.Count > 0)
            throw new UsageException($"--merge: the shards' runs are not the grid's ({(absent.Count > 0 ? $"missing {absent[0]}" : $"extra {stray[0]}")})");

        Directory.CreateDirectory(outDir);
        WriteSweep(outDir, new SweepSummary(first.Settings, SweepSummary.Ordered(rows)));
        Console.WriteLine($"merged {count} shards, {rows.Count} runs: wrote {Path.Combine(outDir, SweepSummary.JsonFile)}, {SweepSummary.CsvFile}, {SweepSummary.FigureFile}");
        return ExitCodes.Ok;
    }
}
