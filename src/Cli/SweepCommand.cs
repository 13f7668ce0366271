using System.CommandLine;
using System.Globalization;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
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
        var bottleneck = SweepLists.Sizes("--bottleneck", "-z", "Bottleneck sizes, comma-separated (2,4,8).", Defaults.Bottleneck);
        var seeds = SweepLists.Seeds("Seeds: a list and/or ranges (0,1,7 or 0-4).", Defaults.Seed);
        var batch = SweepLists.Sizes("--batch", "-b", "Batch sizes, comma-separated.", Defaults.BatchSize);
        var lr = SweepLists.LearningRates("Adam learning rates, comma-separated.", Defaults.LearningRate);
        var epochs = new Option<int>("--epochs", "-e") { Description = "Epochs per run.", DefaultValueFactory = _ => Defaults.Epochs };
        var gamma = new Option<double>("--gamma") { Description = "Learning-rate decay per epoch, for every run.", DefaultValueFactory = _ => Defaults.Gamma };
        var data = CommonOptions.Data();
        var limit = new Option<int?>("--limit") { Description = "Train every run on the first N images only." };
        var noShuffle = new Option<bool>("--no-shuffle") { Description = "Keep the data set's order in every run." };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Checkpoint each run every N epochs (and after its last).", DefaultValueFactory = _ => 1 };
        var outDir = new Option<string?>("--out", "-o") { Description = "The sweep's folder: one run folder per configuration (z8-seed0, with -b/-lr parts where those differ from train's defaults) and sweep.json, sweep.csv, sweep.png." };
        var shard = SweepLists.Shard("Train only shard i of N (i counts from 1), a fixed share of the grid; writes shard-i-of-N.json instead of sweep.json.");
        var noProgress = new Option<bool>("--no-progress") { Description = "Plain progress lines instead of the live bar (the default when stderr is not a terminal)." };
        var merge = new Option<string[]>("--merge") { Description = "Join the finished shards in these folders into sweep.json/csv/png in --out.", AllowMultipleArgumentsPerToken = true };

        var command = new Command("sweep", "Train every combination of the listed bottlenecks, seeds, batch sizes and learning rates; summarise them in sweep.json, sweep.csv and sweep.png.")
        {
            accelerator, bottleneck, seeds, batch, lr, epochs, gamma, data, limit, noShuffle, checkpointEvery, outDir, shard, noProgress, merge,
        };
        command.SetAction(parse => CommonOptions.Run(parse.GetValue(CommonOptions.Verbose), () =>
        {
            var given = command.Options.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToHashSet();
            string output = parse.GetValue(outDir) ?? throw new UsageException("--out: the sweep needs a folder (--out DIR)");
            if (given.Contains(merge.Name))
            {
                var alsoGiven = given.Except([merge.Name, outDir.Name, accelerator.Name, noProgress.Name]).ToList();
                if (alsoGiven.Count > 0) throw new UsageException($"{alsoGiven[0]}: cannot be combined with --merge, which only joins finished shards into --out");
                return SweepMerge.Run(parse.GetValue(merge) ?? [], output);
            }
            var grid = new SweepGrid(parse.GetValue(bottleneck)!, parse.GetValue(seeds)!, parse.GetValue(batch)!, parse.GetValue(lr)!);
            var plan = new SweepPlan(grid, parse.GetValue(shard), parse.GetValue(epochs), parse.GetValue(gamma), !parse.GetValue(noShuffle),
                parse.GetValue(limit), parse.GetValue(checkpointEvery)) { Accelerator = accelerator.ValueIn(parse), Data = parse.GetValue(data), Out = output };
            return Run(plan, TrainingProgress.For(parse.GetValue(noProgress)));
        }));
        return command;
    }

    static int Run(SweepPlan plan, ITrainingProgress display)
    {
        // As train does: every check before the accelerator starts and before --out is touched.
        if (plan.Epochs < 1) throw new UsageException($"--epochs: a sweep needs at least 1 epoch per run, got {plan.Epochs}");
        if (plan.CheckpointEvery < 1) throw new UsageException($"--checkpoint-every: must be at least 1, got {plan.CheckpointEvery}");
        var grid = plan.Grid.Runs;
        foreach (var run in grid) OptionNames.Check(run.Options(new SweepSettings(plan.Epochs, plan.Gamma, plan.Shuffle, 1, ""), plan.Limit));
        var data = TrainingData.Load(plan.Data, plan.Limit);
        var settings = new SweepSettings(plan.Epochs, plan.Gamma, plan.Shuffle, data.Train.Count, data.Train.Sha256);
        var runs = plan.Shard?.Select(grid) ?? grid;
        var folder = SweepFolder.Load(plan.Out, settings, grid, runs);
        var toTrain = folder.Runs.Where(r => r.State != SweepFolder.State.Finished).ToList();

        using var context = Accelerators.CreateContext();
        using var accelerator = Accelerators.Create(context, plan.Accelerator);
        using var kernels = new DeviceKernels(accelerator);
        Console.WriteLine($"sweep: {grid.Count} runs in the grid" + (plan.Shard is { } sh ? $", {runs.Count} in shard {sh}" : "") +
            $"; {runs.Count - toTrain.Count} already finished, {toTrain.Count} to train ({toTrain.Count(r => r.State == SweepFolder.State.Unfinished)} resumed from checkpoints)");
        Console.WriteLine($"accelerator: {Accelerators.Name(accelerator.AcceleratorType)} ({accelerator.Name}), schedule {kernels.Schedule.Name}; " +
            $"data: {data.Train.Count} images from {data.Dir}, {plan.Epochs} epochs per run; output in {plan.Out}");
        Directory.CreateDirectory(plan.Out);

        using var evaluator = new SweepEvaluator(kernels, data.Test ?? data.Train, data.Test != null ? "test" : "train");
        var sweep = new SweepRunner(plan, settings, folder, evaluator, display);
        int exit = sweep.Train(kernels, data, toTrain);
        if (exit == ExitCodes.Interrupted) return exit;
        Console.WriteLine(plan.Shard is { } mine
            ? $"wrote {Path.Combine(plan.Out, mine.FileName)}; when every shard is done: gpuae sweep --merge DIR... --out DIR"
            : $"wrote {Path.Combine(plan.Out, SweepSummary.JsonFile)}, {SweepSummary.CsvFile}, {SweepSummary.FigureFile}");
        return exit;
    }
}
