using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using GpuAutoencoder.Cli;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;
using Architecture = GpuAutoencoder.Training.Model.Architecture;

namespace GpuAutoencoder.Tests;

/// <summary>The gaps the first reliability round left: signals before the first batch, --init from a checkpoint,
/// --checkpoint-every across a resume, and a trainer that does not fit the device's memory.</summary>
public class RunGapTests
{
    const int Images = 128;
    string _dir = "", _data = "";

    [SetUp]
    public void SetUp()
    {
        _dir = TestPaths.TempDir("run-gaps");
        _data = TestData.Folder(Path.Combine(_dir, "data"), Images);
    }

    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    string[] Train(string outDir, params string[] extra)
    {
        string[] defaults = ["--accelerator", "cpu", "--data", _data, "--batch", "64", "--epochs", "1", "--out", outDir];
        return ["train", .. defaults.Chunk(2).Where(pair => !extra.Contains(pair[0])).SelectMany(pair => pair), .. extra];
    }

    string[] Resume(string run, params string[] extra) => ["train", "--resume", run, "--data", _data, "--accelerator", "cpu", .. extra];

    static Gpuae.Result Ok(params string[] args)
    {
        var r = Gpuae.Run(args);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.Ok), r.ToString());
        return r;
    }

    static float[] Weights(string path) =>
        SafeTensors.Read(path).Tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal).SelectMany(t => t.Data).ToArray();

    static Dictionary<string, string> Snapshot(string dir) =>
        Directory.EnumerateFiles(dir).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    /// <summary>
    /// Starts gpuae with its setup held open (the lock taken, the data, the kernels and the trainer still to come),
    /// signals it there, and returns how it ended. The pause stands for a slow data load or kernel compilation.
    /// </summary>
    static Gpuae.Result SignalBeforeTheFirstBatch(string[] args, string folder, int signal)
    {
        using var child = Gpuae.Start(args, new Dictionary<string, string> { [TrainCommand.StartPauseEnvVar] = "3000" });
        var (stdout, stderr) = (child.StandardOutput.ReadToEndAsync(), child.StandardError.ReadToEndAsync());
        var pidFile = Path.Combine(folder, RunLock.PidFile);
        var clock = Stopwatch.StartNew();
        while (!File.Exists(pidFile) && !child.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(10);
        Assert.That(File.Exists(pidFile), $"the child never locked {folder}");
        Gpuae.Signal(child, signal);
        Assert.That(child.WaitForExit(120_000), "the child exits after the signal");
        return new Gpuae.Result(child.ExitCode, stdout.Result, stderr.Result);
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "sends POSIX signals")]
    public void ASignalBeforeTheFirstBatchExits130AndLeavesNoHalfMadeFolder()
    {
        var run = Path.Combine(_dir, "new", "run");
        var r = SignalBeforeTheFirstBatch(Train(run), run, 2);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.Interrupted), r.ToString());
        Assert.That(r.Err, Does.Contain("SIGINT: stopping before training starts")
            .And.Contain("stopped before training started; nothing was written"), r.ToString());
        Assert.That(r.Out, Does.Not.Contain("epoch "), "no batch was trained");
        Assert.That(Directory.Exists(Path.Combine(_dir, "new")), Is.False, "the folders the run made for itself are gone");
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "sends POSIX signals")]
    public void ASignalBeforeTheFirstBatchOfAResumeLeavesTheRunResumable()
    {
        var run = Path.Combine(_dir, "run");
        Ok(Train(run));
        var before = Snapshot(run);
        var r = SignalBeforeTheFirstBatch(Resume(run, "--epochs", "2"), run, 15);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.Interrupted), r.ToString());
        Assert.That(r.Err, Does.Contain("SIGTERM: stopping before training starts").And.Contain($"resume with: gpuae train --resume {run}"), r.ToString());
        Assert.That(Snapshot(run), Is.EqualTo(before), "the run folder is as it was");
        Ok(Resume(run, "--epochs", "2"));
        Assert.That(Checkpoint.Load(Path.Combine(run, Checkpoint.FileName)).State.Epoch, Is.EqualTo(2));
    }

    [Test]
    public void InitAcceptsACheckpointAndTakesItsWeights()
    {
        var first = Path.Combine(_dir, "first");
        Ok(Train(first, "--bottleneck", "5"));
        var checkpoint = Path.Combine(first, Checkpoint.FileName);

        // Zero epochs: the model written is the weights the run started from.
        var second = Path.Combine(_dir, "second");
        Ok(Train(second, "--init", checkpoint, "--epochs", "0"));
        Assert.That(Weights(Path.Combine(second, RunFolder.Model)).Select(BitConverter.SingleToInt32Bits),
            Is.EqualTo(Weights(Path.Combine(first, RunFolder.Model)).Select(BitConverter.SingleToInt32Bits)));
        var metrics = RunMetrics.Load(Path.Combine(second, RunFolder.Metrics));
        Assert.That((metrics.Config.Bottleneck, metrics.Config.Init), Is.EqualTo((5, checkpoint)), "the bottleneck comes from the checkpoint");

        // A new run from a checkpoint starts its own optimiser: it is not the resumed run.
        var trained = Path.Combine(_dir, "trained");
        Ok(Train(trained, "--init", checkpoint));
        var c = Checkpoint.Load(Path.Combine(trained, Checkpoint.FileName));
        Assert.That((c.State.Epoch, c.State.Step, c.Init), Is.EqualTo((1, 2L, checkpoint)));

        var r = Gpuae.Run(Train(Path.Combine(_dir, "third"), "--init", checkpoint, "-z", "8"));
        Assert.That((r.Exit, r.ErrLines.Length), Is.EqualTo((ExitCodes.BadInput, 1)), r.ToString());
        Assert.That(r.ErrLines[0], Does.Contain(Checkpoint.FileName).And.Contain("bottleneck is 5").And.Contain("8 was asked for"));
        Assert.That(Directory.Exists(Path.Combine(_dir, "third")), Is.False);
    }

    /// <summary>--init reads every weights format gpuae reads, not only safetensors: it once asked safetensors first
    /// whether the file was a checkpoint, which refused torch.save's zip and ONNX before their readers saw them.</summary>
    [Test]
    public void InitTakesTheWeightsOfATorchSavePthAndOfAnOnnxExport()
    {
        var pth = Path.Combine(_dir, "first.pth");
        Ok(Train(Path.Combine(_dir, "first"), "--bottleneck", "5", "-s", pth));
        var onnx = Path.Combine(_dir, "first.onnx");
        Ok("export", "--model", pth, "--onnx", onnx);
        var expected = ModelFiles.PthFile.Read(pth).Values.OrderBy(t => t.Name, StringComparer.Ordinal).SelectMany(t => t.Data)
            .Select(BitConverter.SingleToInt32Bits).ToArray();

        foreach (var init in new[] { pth, onnx })
        {
            // Zero epochs: the model written is the weights the run started from.
            var run = Path.Combine(_dir, Path.GetExtension(init)[1..]);
            Ok(Train(run, "--init", init, "--epochs", "0"));
            Assert.That(Weights(Path.Combine(run, RunFolder.Model)).Select(BitConverter.SingleToInt32Bits), Is.EqualTo(expected), init);
            Assert.That(RunMetrics.Load(Path.Combine(run, RunFolder.Metrics)).Config.Bottleneck, Is.EqualTo(5), "the bottleneck comes from the file");
        }
    }

    /// <summary>Counts the writes of checkpoint.safetensors a command makes, through the writer's seam.</summary>
    static (Gpuae.Result Result, int Writes) CountingCheckpoints(string[] args)
    {
        int writes = 0;
        using var seam = AtomicFile.Inject((target, temp) =>
        {
            if (Path.GetFileName(target) == Checkpoint.FileName) writes++;
            return new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        });
        var r = Gpuae.Run(args);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.Ok), r.ToString());
        return (r, writes);
    }

    [Test]
    public void CheckpointEveryIsStoredAndAResumeKeepsItUnlessGivenAgain()
    {
        var run = Path.Combine(_dir, "run");
        Assert.That(CountingCheckpoints(Train(run, "--epochs", "2", "--checkpoint-every", "2")).Writes, Is.EqualTo(1));
        Assert.That(Checkpoint.Load(Path.Combine(run, Checkpoint.FileName)).CheckpointEvery, Is.EqualTo(2));

        // Epochs 3 to 5 every 2: after epoch 4, and after the last.
        Assert.That(CountingCheckpoints(Resume(run, "--epochs", "5")).Writes, Is.EqualTo(2));
        Assert.That(Checkpoint.Load(Path.Combine(run, Checkpoint.FileName)).CheckpointEvery, Is.EqualTo(2));

        // Given again, it replaces the stored one: epochs 6 and 7 both checkpoint.
        Assert.That(CountingCheckpoints(Resume(run, "--epochs", "7", "--checkpoint-every", "1")).Writes, Is.EqualTo(2));
        Assert.That(Checkpoint.Load(Path.Combine(run, Checkpoint.FileName)).CheckpointEvery, Is.EqualTo(1));
    }

    [Test]
    public void ATrainerBeyondTheMemoryBudgetFailsWithOneLineAndExit2()
    {
        const int count = 256;
        var layout = new ParameterLayout(new Architecture(8));
        var options = new TrainingOptions { BatchSize = 128 };
        var images = TestImages.Synthetic(count, 7);
        var kernels = TestAccelerator.Kernels(Schedule.Cpu);
        long budget = count * 784 / 2; // half the dataset alone

        var e = Assert.Throws<DeviceMemoryException>(() =>
            new DeviceTrainer(kernels, layout, images, count, options, layout.Initialize(1), memoryBudget: budget).Dispose());
        var message = e!.Message;
        Assert.That(message, Does.Not.Contain("\n").And.StartWith("out of memory on cpu (").And.Contain($"training {count} images in batches of 128")
            .And.Contain($"the budget is {budget:N0} bytes").And.Not.Contain("--"));
        var needed = long.Parse(Regex.Match(message, @"needs ([\d,]+) bytes").Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
        // At least the dataset, the three parameter-sized buffers of Adam and the gradients, and a batch's input.
        Assert.That(needed, Is.GreaterThanOrEqualTo(count * 784L + 4L * 4 * layout.Architecture.ParameterCount + 4L * 128 * 784));

        var error = new StringWriter();
        var stderr = Console.Error;
        Console.SetError(error);
        int exit;
        try { exit = CommonOptions.Run(false, () => { using var t = new DeviceTrainer(kernels, layout, images, count, options, layout.Initialize(1), budget); return 0; }); }
        finally { Console.SetError(stderr); }
        Assert.That(exit, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error.ToString(), Is.EqualTo($"gpuae: {message}; try a smaller --batch or --limit{Environment.NewLine}"));

        // The budget is what decides: with what the trainer needs, it fits and trains.
        using var fits = new DeviceTrainer(kernels, layout, images, count, options, layout.Initialize(1), memoryBudget: needed);
        Assert.That(double.IsFinite(fits.TrainEpoch(0).Loss));
    }
}
