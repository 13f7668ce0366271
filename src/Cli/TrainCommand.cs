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
        var noGraphs = new Option<bool>("--no-graphs") { Description = "Launch every kernel of every step instead of replaying a step captured once as a CUDA graph (for comparison; the weights are the same)." };
        var noProgress = new Option<bool>("--no-progress") { Description = "Plain progress lines instead of the live bar (the default when stderr is not a terminal)." };

        var command = new Command("train", "Train the autoencoder on MNIST and write model.safetensors, metrics.json and loss.png.")
        {
            accelerator, epochs, batch, bottleneck, lr, gamma, seed, data, limit, noShuffle, init, outDir, save, plot,
            resume, checkpointEvery, force, noProgress, precision, noGraphs,
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
            var given = command.Options.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToHashSet();
            var request = new TrainRequest(options, accelerator.ValueIn(parse), precision.ValueIn(parse), given)
            {
                Data = parse.GetValue(data), Init = parse.GetValue(init), Out = parse.GetValue(outDir), Save = parse.GetValue(save),
                Plot = parse.GetValue(plot), Resume = parse.GetValue(resume), CheckpointEvery = parse.GetValue(checkpointEvery),
                Force = parse.GetValue(force), Verbose = parse.GetValue(CommonOptions.Verbose), ReplaySteps = !parse.GetValue(noGraphs),
            };
            request.Validate();
            // Before Train makes or locks a folder: a precision the accelerator cannot run leaves nothing behind.
            CommonOptions.RequirePrecision(request.Accelerator, request.Precision);
            return Train(request, TrainingProgress.For(parse.GetValue(noProgress)));
        }));
        return command;
    }

    /// <summary>
    /// Fault injection for tests: with GPUAE_FAULT_START_PAUSE_MS=N a run pauses N ms once it holds its folder's
    /// lock, before it loads the data, so a test can meet a live run's lock, or signal a run before its first
    /// batch, every time instead of racing it.
    /// </summary>
    public const string StartPauseEnvVar = "GPUAE_FAULT_START_PAUSE_MS";

    static int Train(TrainRequest request, ITrainingProgress display)
    {
        // Registered first: a signal during data loading or kernel compilation stops the run at the
        // next step of its setup, which cleans up, instead of killing it with its folder half made.
        using var stop = new StopSignal();
        using var runLock = Lock(request);
        string outDir = runLock.Folder;
        if (int.TryParse(Environment.GetEnvironmentVariable(StartPauseEnvVar), out var pauseMs) && pauseMs > 0) Thread.Sleep(pauseMs);

        // Everything that can be wrong with the input is checked before any work starts, and before
        // the output folder is written to.
        var (options, given) = (request.Options, request.Given);
        Checkpoint? resumed = null;
        int checkpointEvery = request.CheckpointEvery;
        var (precision, precisionNotice) = (request.Precision, (string?)null);
        if (request.Resume != null)
        {
            (resumed, options) = RunFolder.Resume(request.Resume, options, given);
            if (!given.Contains("--checkpoint-every")) checkpointEvery = resumed.CheckpointEvery;
            (precision, precisionNotice) = RunFolder.ResumePrecision(resumed.Precision, given.Contains("--precision") ? request.Precision : null);
            try { CommonOptions.RequirePrecision(request.Accelerator, precision); }
            catch (AcceleratorUnavailableException e)
            {
                throw new UsageException($"--resume: the run in {request.Resume} trained at {Precisions.Name(precision)}, but {e.Message}; --precision fp32 continues it at fp32");
            }
        }
        else RunFolder.RefuseExistingRun(outDir, request.Force);
        float[]? initial = null;
        if (request.Init != null)
        {
            (int bottleneck, initial) = LoadInit(request.Init, given.Contains("--bottleneck") ? options.Bottleneck : null);
            options = options with { Bottleneck = bottleneck };
        }
        if (stop.Token.IsCancellationRequested) return StoppedBeforeTraining(outDir, resumed != null);
        var data = TrainingData.Load(request.Data, options.Limit);
        if (resumed != null) RunFolder.CheckDataset(resumed, data.Train, data.Dir);
        var plan = new RunPlan(options, outDir, checkpointEvery, $"gpuae train --resume {outDir}")
        {
            Resumed = resumed, Initial = initial, InitPath = request.Init,
            SavePath = request.Save ?? Path.Combine(outDir, RunFolder.Model), PlotPath = request.Plot ?? Path.Combine(outDir, RunFolder.Plot),
            WriteOutputsCommand = $"gpuae train --resume {outDir}{request.OutputOptions}",
            ReplaySteps = request.ReplaySteps,
        };
        if (stop.Token.IsCancellationRequested) return StoppedBeforeTraining(outDir, resumed != null);

        using var context = Accelerators.CreateContext();
        using var accelerator = Accelerators.Create(context, request.Accelerator);
        using var kernels = new DeviceKernels(accelerator, precision: precision);
        Describe(plan, kernels, data, precisionNotice);
        if (request.Verbose)
            Console.WriteLine($"  {accelerator.MaxNumThreads} threads, {accelerator.MaxNumThreadsPerGroup} per group, " +
                $"{accelerator.MemorySize / (1 << 20)} MiB; available: {Accelerators.Describe(context)}");

        switch (new TrainingRun(kernels, plan, new TrainingRun.Hooks(stop, display)).Run(data.Train, data.Test))
        {
            case RunOutcome.StoppedBeforeTraining: return StoppedBeforeTraining(outDir, resumed != null);
            case RunOutcome.Interrupted: return ExitCodes.Interrupted;
            case RunOutcome.Failed: return ExitCodes.Failure;
        }
        Console.WriteLine($"wrote {plan.SavePath}, {Path.Combine(outDir, RunFolder.Metrics)}, {plan.PlotPath}");
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Where the run writes is checked before anything is created, and then locked against a second
    /// writer before anything in it is read, so that a refused run leaves nothing behind.
    /// </summary>
    static RunLock Lock(TrainRequest request)
    {
        if (request.Resume is { } resume)
        {
            if (!Directory.Exists(resume)) throw new UsageException($"--resume: folder {resume} does not exist");
            RunFolder.CheckOutputs(resume, "--resume", request.Save, request.Plot);
            return RunLock.Acquire(resume, "--resume");
        }
        if (request.Out is { } outDir)
        {
            RunFolder.CheckOutputs(outDir, "--out", request.Save, request.Plot);
            return RunLock.Acquire(outDir, "--out");
        }
        RunFolder.CheckOutputs(RunFolder.DefaultParent, "--out", request.Save, request.Plot);
        return RunFolder.LockNew(RunFolder.DefaultParent, DateTime.Now);
    }

    static void Describe(RunPlan plan, DeviceKernels kernels, TrainingData data, string? precisionNotice)
    {
        var (accelerator, architecture) = (kernels.Accelerator, new Architecture(plan.Options.Bottleneck));
        string acceleratorName = Accelerators.Name(accelerator.AcceleratorType);
        Console.WriteLine($"model: {string.Join("-", architecture.Widths)}, " +
            $"{architecture.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters");
        Console.WriteLine($"accelerator: {acceleratorName} ({accelerator.Name}), schedule {kernels.Schedule.Name}, precision {Precisions.Name(kernels.Precision)}");
        if (precisionNotice != null) Console.WriteLine($"precision: {precisionNotice}");
        Console.WriteLine($"data: {data.Train.Count} images from {data.Dir}; batch {plan.Options.BatchSize}, {plan.Options.Epochs} epochs; output in {plan.OutDir}");
        if (plan.Resumed is { } resumed)
            Console.WriteLine($"resuming: epoch {resumed.State.Epoch + 1}, batch {resumed.State.Batch}, step {resumed.State.Step}" +
                (resumed.Accelerator == acceleratorName && resumed.Schedule == kernels.Schedule.Name ? ""
                    : $"; it ran on {resumed.Accelerator} ({resumed.Schedule}), so the weights will not be bitwise those of an uninterrupted run"));
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
