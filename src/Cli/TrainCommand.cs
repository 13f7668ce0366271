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

        var command = new Command("train", "Train the autoencoder on MNIST and write model.safetensors, metrics.json and loss.png.")
        {
            accelerator, epochs, batch, bottleneck, lr, gamma, seed, data, limit, noShuffle, init, outDir, save, plot,
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
            bool bottleneckGiven = parse.GetResult(bottleneck) is { Implicit: false };
            return Train(options, bottleneckGiven, CommonOptions.ParseAccelerator(parse.GetValue(accelerator)!),
                parse.GetValue(data), parse.GetValue(init), parse.GetValue(outDir), parse.GetValue(save), parse.GetValue(plot),
                parse.GetValue(CommonOptions.Verbose));
        }));
        return command;
    }

    static int Train(TrainingOptions options, bool bottleneckGiven, AcceleratorKind kind, string? dataOption, string? initPath,
        string? outOption, string? savePath, string? plotPath, bool verbose)
    {
        // Everything that can be wrong with the input is checked before any work starts.
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
        var layout = new ParameterLayout(new Architecture(options.Bottleneck));
        initial ??= layout.Initialize(options.Seed);
        string outDir = outOption ?? Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(outDir);
        savePath ??= Path.Combine(outDir, "model.safetensors");
        plotPath ??= Path.Combine(outDir, "loss.png");

        using var context = Accelerators.CreateContext();
        using var accelerator = Accelerators.Create(context, kind);
        using var kernels = new DeviceKernels(accelerator);
        string acceleratorName = Accelerators.Name(accelerator.AcceleratorType);
        Console.WriteLine($"model: {string.Join("-", layout.Architecture.Layers.Select(l => l.Inputs).Append(Architecture.Pixels))}, " +
            $"{layout.Architecture.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters");
        Console.WriteLine($"accelerator: {acceleratorName} ({accelerator.Name}), schedule {kernels.Schedule.Name}");
        Console.WriteLine($"data: {set.Count} images from {dataDir}; batch {options.BatchSize}, {options.Epochs} epochs; output in {outDir}");
        if (verbose)
            Console.WriteLine($"  {accelerator.MaxNumThreads} threads, {accelerator.MaxNumThreadsPerGroup} per group, " +
                $"{accelerator.MemorySize / (1 << 20)} MiB; available: {Accelerators.Describe(context)}");

        var metrics = new RunMetrics
        {
            Config = RunConfig.From(options, set.Count, initPath),
            Accelerator = acceleratorName,
            Device = accelerator.Name,
            Schedule = kernels.Schedule.Name,
            Parameters = layout.Architecture.ParameterCount,
            DatasetSha256 = set.Sha256,
        };
        using var trainer = new DeviceTrainer(kernels, layout, set.Images, set.Count, options, initial);
        var line = new ProgressLine();
        var progress = new InlineProgress<BatchProgress>(p => line.Show(
            $"epoch {p.Epoch}/{options.Epochs}  batch {p.BatchesDone}/{p.Batches}  {p.ImagesPerSecond:F0} img/s  ETA {p.EtaSeconds:F0} s"));
        for (int e = 0; e < options.Epochs; e++)
        {
            var r = trainer.TrainEpoch(e, progress);
            line.Clear();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {r.Epoch,3}/{options.Epochs}  loss {r.Loss:F6}  lr {r.LearningRate:E3}  {r.Seconds,6:F2} s  {r.ImagesPerSecond,8:F0} img/s"));
            metrics.Epochs.Add(EpochRecord.From(r));
        }

        ModelFile.Save(savePath, layout, trainer.DownloadParameters());
        metrics.Save(Path.Combine(outDir, "metrics.json"));
        LossPlot.Save(plotPath, $"gpuae training loss (z={options.Bottleneck}, {set.Count} images)",
            [new Series("train loss", metrics.Epochs.Select(x => x.Loss).ToList())]);
        Console.WriteLine($"wrote {savePath}, {Path.Combine(outDir, "metrics.json")}, {plotPath}");
        return ExitCodes.Ok;
    }
}
