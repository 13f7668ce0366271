using System.CommandLine;
using System.Globalization;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Figures;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training.IO;
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
        var init = new Option<string?>("--init") { Description = "Start from these weights (safetensors or a torch.save .pth, with PyTorch's key names), or from the parameters of a run's checkpoint." };
        var outDir = new Option<string?>("--out", "-o") { Description = "Folder for the run's outputs. Default: a new folder under runs/ named for the time it starts." };
        var save = new Option<string?>("-s") { Description = "Where to write the weights: PyTorch's torch.save format when it ends in .pth or .pt, safetensors otherwise. Default: OUT/model.safetensors." };
        var plot = new Option<string?>("-p") { Description = "Where to write the loss plot. Default: OUT/loss.png." };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its checkpoint, up to --epochs in all." };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Write OUT/checkpoint.safetensors every N epochs (and after the last). Default: 1, or the resumed run's.", DefaultValueFactory = _ => 1 };
        var force = new Option<bool>("--force") { Description = "Overwrite a run already in --out." };
        var precision = CommonOptions.Precision();
        var noProgress = new Option<bool>("--no-progress") { Description = "Plain progress lines instead of the live bar (the default when stderr is not a terminal)." };

        var command = new Command("train", "Train the autoencoder on MNIST and write model.safetensors, metrics.json and loss.png.")
        {
            accelerator, epochs, batch, bottleneck, lr, gamma, seed, data, limit, noShuffle, init, outDir, save, plot,
            resume, checkpointEvery, force, noProgress, precision,
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
            if (options.Problem() is { } problem) throw new UsageException(problem);
            var given = command.Options.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToHashSet();
            var run = new RunControl(parse.GetValue(resume), parse.GetValue(checkpointEvery), parse.GetValue(force), given)
                { Precision = CommonOptions.ParsePrecision(parse.GetValue(precision)!) };
            run.Validate();
            // Before Train makes or locks a folder: a precision the accelerator cannot run leaves nothing behind.
            Accelerators.RequirePrecision(CommonOptions.ParseAccelerator(parse.GetValue(accelerator)!), run.Precision);
            return Train(options, given.Contains(bottleneck.Name), CommonOptions.ParseAccelerator(parse.GetValue(accelerator)!),
                parse.GetValue(data), parse.GetValue(init), parse.GetValue(outDir), parse.GetValue(save), parse.GetValue(plot),
                parse.GetValue(CommonOptions.Verbose), run, TrainingProgress.For(parse.GetValue(noProgress)));
        }));
        return command;
    }

    /// <summary>
    /// Fault injection for tests: with GPUAE_FAULT_START_PAUSE_MS=N a run pauses N ms once it holds its folder's
    /// lock, before it loads the data, so a test can meet a live run's lock, or signal a run before its first
    /// batch, every time instead of racing it.
    /// </summary>
    public const string StartPauseEnvVar = "GPUAE_FAULT_START_PAUSE_MS";

    static int Train(TrainingOptions options, bool bottleneckGiven, AcceleratorKind kind, string? dataOption, string? initPath,
        string? outOption, string? saveOption, string? plotOption, bool verbose, RunControl run, ITrainingProgress display)
    {
        // Registered first: a signal during data loading or kernel compilation stops the run at the
        // next step of its setup, which cleans up, instead of killing it with its folder half made.
        using var stop = new StopSignal();

        // Where the run writes is checked before anything is created, and then locked against a second
        // writer before anything in it is read, so that a refused run leaves nothing behind.
        RunLock runLock;
        if (run.Resume != null)
        {
            if (!Directory.Exists(run.Resume)) throw new UsageException($"--resume: folder {run.Resume} does not exist");
            RunFolder.CheckOutputs(run.Resume, "--resume", saveOption, plotOption);
            runLock = RunLock.Acquire(run.Resume, "--resume");
        }
        else if (outOption != null)
        {
            RunFolder.CheckOutputs(outOption, "--out", saveOption, plotOption);
            runLock = RunLock.Acquire(outOption, "--out");
        }
        else
        {
            RunFolder.CheckOutputs(RunFolder.DefaultParent, "--out", saveOption, plotOption);
            runLock = RunFolder.LockNew(RunFolder.DefaultParent, DateTime.Now);
        }
        using var held = runLock;
        string outDir = runLock.Folder;
        if (int.TryParse(Environment.GetEnvironmentVariable(StartPauseEnvVar), out var pauseMs) && pauseMs > 0) Thread.Sleep(pauseMs);

        // Everything that can be wrong with the input is checked before any work starts, and before
        // the output folder is written to.
        Checkpoint? resumed = null;
        int checkpointEvery = run.CheckpointEvery;
        var (precision, precisionNotice) = (run.Precision, (string?)null);
        if (run.Resume != null)
        {
            (resumed, options) = RunFolder.Resume(run.Resume, options, run.Given);
            if (!run.Given.Contains("--checkpoint-every")) checkpointEvery = resumed.CheckpointEvery;
            (precision, precisionNotice) = RunFolder.ResumePrecision(resumed.Precision, run.Given.Contains("--precision") ? run.Precision : null);
            try { Accelerators.RequirePrecision(kind, precision); }
            catch (AcceleratorUnavailableException e)
            {
                throw new UsageException($"--resume: the run in {run.Resume} trained at {Precisions.Name(precision)}, but {e.Message}; --precision fp32 continues it at fp32");
            }
        }
        else RunFolder.RefuseExistingRun(outDir, run.Force);
        float[]? initial = null;
        if (initPath != null)
        {
            (int bottleneck, initial) = LoadInit(initPath, bottleneckGiven ? options.Bottleneck : null);
            options = options with { Bottleneck = bottleneck };
        }
        if (stop.Token.IsCancellationRequested) return StoppedBeforeTraining(outDir, resumed != null);
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
        string savePath = saveOption ?? Path.Combine(outDir, RunFolder.Model);
        string plotPath = plotOption ?? Path.Combine(outDir, RunFolder.Plot);
        if (stop.Token.IsCancellationRequested) return StoppedBeforeTraining(outDir, resumed != null);

        using var context = Accelerators.CreateContext();
        using var accelerator = Accelerators.Create(context, kind);
        using var kernels = new DeviceKernels(accelerator, precision: precision);
        string acceleratorName = Accelerators.Name(accelerator.AcceleratorType);
        Console.WriteLine($"model: {string.Join("-", layout.Architecture.Widths)}, " +
            $"{layout.Architecture.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters");
        Console.WriteLine($"accelerator: {acceleratorName} ({accelerator.Name}), schedule {kernels.Schedule.Name}, precision {Precisions.Name(precision)}");
        if (precisionNotice != null) Console.WriteLine($"precision: {precisionNotice}");
        Console.WriteLine($"data: {set.Count} images from {dataDir}; batch {options.BatchSize}, {options.Epochs} epochs; output in {outDir}");
        if (resumed != null)
            Console.WriteLine($"resuming: epoch {resumed.State.Epoch + 1}, batch {resumed.State.Batch}, step {resumed.State.Step}" +
                (resumed.Accelerator == acceleratorName && resumed.Schedule == kernels.Schedule.Name ? ""
                    : $"; it ran on {resumed.Accelerator} ({resumed.Schedule}), so the weights will not be bitwise those of an uninterrupted run"));
        if (verbose)
            Console.WriteLine($"  {accelerator.MaxNumThreads} threads, {accelerator.MaxNumThreadsPerGroup} per group, " +
                $"{accelerator.MemorySize / (1 << 20)} MiB; available: {Accelerators.Describe(context)}");

        int exit;
        try
        {
            exit = RunTraining.Train(kernels, acceleratorName, set, test, options, initial, resumed, initPath, outDir, savePath, plotPath,
                checkpointEvery, new RunTraining.Hooks(stop, display));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Training is done and checkpointed: a resume of the finished run trains nothing and writes these again.
            var checkpointPath = Path.Combine(outDir, Checkpoint.FileName);
            var again = string.Join("", new[] { ("-s", saveOption), ("-p", plotOption) }.Where(o => o.Item2 != null).Select(o => $" {o.Item1} {o.Item2}"));
            Console.Error.WriteLine($"gpuae: error: {e.Message.ReplaceLineEndings(" ")}; " + (File.Exists(checkpointPath)
                ? $"training finished, and its checkpoint after epoch {options.Epochs} is kept in {checkpointPath}; " +
                  $"{(e is DiskFullException ? "once the disk has room, " : "")}write the outputs with: gpuae train --resume {outDir}{again}"
                : "no checkpoint was written"));
            return ExitCodes.Failure;
        }
        if (exit == RunTraining.Stopped) return StoppedBeforeTraining(outDir, resumed != null);
        if (exit != ExitCodes.Ok) return exit;
        Console.WriteLine($"wrote {savePath}, {Path.Combine(outDir, RunFolder.Metrics)}, {plotPath}");
        return ExitCodes.Ok;
    }

    static int StoppedBeforeTraining(string outDir, bool resuming)
    {
        Console.Error.WriteLine(resuming
            ? $"stopped before training started; {outDir} is as it was, and resume with: gpuae train --resume {outDir}"
            : "stopped before training started; nothing was written");
        return ExitCodes.Interrupted;
    }

    /// <summary>
    /// The starting weights of --init: a weights file, or a run's checkpoint, of which a new run takes only the
    /// parameters (its Adam moments, step and position belong to that run; --resume continues it).
    /// </summary>
    static (int Bottleneck, float[] Flat) LoadInit(string path, int? bottleneck)
    {
        if (ModelFormats.Of(path) != ModelFormat.Checkpoint)
        {
            var loaded = ModelFile.Load(path, bottleneck);
            return (loaded.Layout.Architecture.Bottleneck, loaded.Flat);
        }
        var c = Checkpoint.Load(path);
        string file = Path.GetFileName(path);
        if (bottleneck is { } z && z != c.Options.Bottleneck)
            throw new UsageException($"--init: {file}: bottleneck is {c.Options.Bottleneck} (a checkpoint of a run with -z {c.Options.Bottleneck}), but {z} was asked for");
        int bad = Array.FindIndex(c.State.Parameters, v => !float.IsFinite(v));
        if (bad >= 0) throw new UsageException($"--init: {file}: the checkpoint's parameters hold a non-finite value ({c.State.Parameters[bad]}) at element {bad}");
        return (c.Options.Bottleneck, c.State.Parameters);
    }
}
