using System.CommandLine;
using System.Globalization;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Training.Figures;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Cli;

/// <summary>gpuae train: the lab's training run, on the accelerator, with its outputs in one folder.</summary>
public static class TrainCommand
{
    static readonly TrainingOptions Defaults = new();

    public static Command Create()
    {
        var accelerator = CommonOptions.Accelerator();
        var epochs = new Option<int>("--epochs", "-e") { Description = "Epochs to train.", DefaultValueFactory = _ => Defaults.Epochs };
        var batch = new Option<int>("--batch", "-b") { Description = "Images per batch; the last partial batch is kept.", DefaultValueFactory = _ => Defaults.BatchSize };
        var bottleneck = new Option<int>("--bottleneck", "-z") { Description = "Units in the bottleneck layer.", DefaultValueFactory = _ => Defaults.Bottleneck };
        var lr = new Option<double>("--lr") { Description = "Adam's initial learning rate.", DefaultValueFactory = _ => Defaults.LearningRate };
        var gamma = new Option<double>("--gamma") { Description = "Learning-rate decay per epoch (epoch e trains at lr·gamma^e).", DefaultValueFactory = _ => Defaults.Gamma };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the initial weights and the shuffle.", DefaultValueFactory = _ => Defaults.Seed };
        var data = CommonOptions.Data();
        var limit = new Option<int?>("--limit") { Description = "Train on the first N images only." };
        var noShuffle = new Option<bool>("--no-shuffle") { Description = "Keep the data set's order instead of reshuffling every epoch." };
        var init = new Option<string?>("--init") { Description = "Start from these weights (safetensors with PyTorch's key names)." };
        var outDir = new Option<string?>("--out", "-o") { Description = "Folder for the run's outputs. Default: a new folder under runs/." };
        var save = new Option<string?>("-s") { Description = "Where to write the weights. Default: OUT/model.safetensors." };
        var plot = new Option<string?>("-p") { Description = "Where to write the loss plot. Default: OUT/loss.png." };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its checkpoint, up to --epochs in all." };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Write OUT/checkpoint.safetensors every N epochs (and after the last).", DefaultValueFactory = _ => 1 };
        var force = new Option<bool>("--force") { Description = "Overwrite a run already in --out." };

        var command = new Command("train", "Train the autoencoder on MNIST and write model.safetensors, metrics.json and loss.png.")
        {
            accelerator, epochs, batch, bottleneck, lr, gamma, seed, data, limit, noShuffle, init, outDir, save, plot,
            resume, checkpointEvery, force,
        };
        command.SetAction(parse => CommonOptions.Run(parse.GetValue(CommonOptions.Verbose), () =>
        {
            var options = new TrainingOptions
            {
                Epochs = parse.GetValue(epochs),
                BatchSize = parse.GetValue(batch),
                Bottleneck = parse.GetValue(bottleneck),
                LearningRate = parse.GetValue(lr),
                Gamma = parse.GetValue(gamma),
                Seed = parse.GetValue(seed),
                Shuffle = !parse.GetValue(noShuffle),
                Limit = parse.GetValue(limit),
            };
            options.Validate();
            var given = command.Options.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToHashSet();
            var run = new RunControl(parse.GetValue(resume), parse.GetValue(checkpointEvery), parse.GetValue(force), given);
            run.Validate();
            return Train(options, given.Contains(bottleneck.Name), CommonOptions.ParseAccelerator(parse.GetValue(accelerator)!),
                parse.GetValue(data), parse.GetValue(init), parse.GetValue(outDir), parse.GetValue(save), parse.GetValue(plot),
                parse.GetValue(CommonOptions.Verbose), run);
        }));
        return command;
    }

    static int Train(TrainingOptions options, bool bottleneckGiven, AcceleratorKind kind, string? dataOption, string? initPath,
        string? outOption, string? savePath, string? plotPath, bool verbose, RunControl run)
    {
        // Everything that can be wrong with the input is checked before any work starts, and before
        // the output folder is touched, so that a refused run leaves nothing behind.
        Checkpoint? resumed = null;
        if (run.Resume != null)
        {
            (resumed, options) = RunFolder.Resume(run.Resume, options, run.Given);
            outOption = run.Resume;
        }
        float[]? initial = null;
        if (initPath != null)
        {
            var loaded = ModelFile.Load(initPath, bottleneckGiven ? options.Bottleneck : null);
            options = options with { Bottleneck = loaded.Layout.Architecture.Bottleneck };
            initial = loaded.Flat;
        }
        var (set, dataDir) = DataCommand.Load(dataOption, MnistSplit.Train);
        if (options.Limit is { } n)
        {
            if (n > set.Count) throw new UsageException($"--limit: {n} is more than the {set.Count} images in {dataDir}");
            set = set.Take(n);
        }
        if (resumed != null) RunFolder.CheckDataset(resumed, set, dataDir);
        // The test MSE per epoch needs the test split; a folder holding only the training files still trains.
        var test = Mnist.FileNames(MnistSplit.Test).All(f => Mnist.Find(dataDir, f) != null) ? Mnist.Load(dataDir, MnistSplit.Test) : null;
        var layout = new ParameterLayout(new Architecture(options.Bottleneck));
        initial ??= layout.Initialize(options.Seed);
        string outDir = outOption ?? Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        if (resumed == null) RunFolder.RefuseExistingRun(outDir, run.Force);
        savePath ??= Path.Combine(outDir, RunFolder.Model);
        plotPath ??= Path.Combine(outDir, RunFolder.Plot);

        using var context = Accelerators.CreateContext();
        using var accelerator = Accelerators.Create(context, kind);
        using var kernels = new DeviceKernels(accelerator);
        string acceleratorName = Accelerators.Name(accelerator.AcceleratorType);
        Console.WriteLine($"model: {string.Join("-", layout.Architecture.Layers.Select(l => l.Inputs).Append(Architecture.Pixels))}, " +
            $"{layout.Architecture.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters");
        Console.WriteLine($"accelerator: {acceleratorName} ({accelerator.Name}), schedule {kernels.Schedule.Name}");
        Console.WriteLine($"data: {set.Count} images from {dataDir}; batch {options.BatchSize}, {options.Epochs} epochs; output in {outDir}");
        if (resumed != null)
            Console.WriteLine($"resuming: epoch {resumed.State.Epoch + 1}, batch {resumed.State.Batch}, step {resumed.State.Step}" +
                (resumed.Accelerator == acceleratorName && resumed.Schedule == kernels.Schedule.Name ? ""
                    : $"; it ran on {resumed.Accelerator} ({resumed.Schedule}), so the weights will not be bitwise those of an uninterrupted run"));
        if (verbose)
            Console.WriteLine($"  {accelerator.MaxNumThreads} threads, {accelerator.MaxNumThreadsPerGroup} per group, " +
                $"{accelerator.MemorySize / (1 << 20)} MiB; available: {Accelerators.Describe(context)}");

        int exit = RunTraining.Train(kernels, acceleratorName, set, test, options, initial, resumed, initPath, outDir, savePath, plotPath,
            run.CheckpointEvery);
        if (exit != ExitCodes.Ok) return exit;
        Console.WriteLine($"wrote {savePath}, {Path.Combine(outDir, RunFolder.Metrics)}, {plotPath}");
        return ExitCodes.Ok;
    }
}
