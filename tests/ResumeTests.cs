using GpuAutoencoder.Cli;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>gpuae train --resume and its checkpoints, through the command line in this process.</summary>
public class ResumeTests
{
    string _dir = "";
    [SetUp] public void SetUp() => _dir = TestPaths.TempDir("resume");
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    /// <summary>A small CPU run; <paramref name="extra"/> adds options or overrides these.</summary>
    static string[] Train(string outDir, params string[] extra)
    {
        // Four batches an epoch, the last one partial (232 images).
        string[] defaults = ["--accelerator", "cpu", "--data", TestData.Mnist, "--limit", "1000", "--batch", "256", "--out", outDir];
        return ["train", .. defaults.Chunk(2).Where(pair => !extra.Contains(pair[0])).SelectMany(pair => pair), .. extra];
    }

    static Gpuae.Result Ok(params string[] args)
    {
        var r = Gpuae.Run(args);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.Ok), r.ToString());
        return r;
    }

    static string Refused(string[] args, params string[] mentions)
    {
        var r = Gpuae.Run(args);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.BadInput), r.ToString());
        Assert.That(r.ErrLines, Has.Length.EqualTo(1), r.ToString());
        foreach (var m in mentions) Assert.That(r.ErrLines[0], Does.Contain(m));
        return r.ErrLines[0];
    }

    static float[] Weights(string path) =>
        SafeTensors.Read(path).Tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal).SelectMany(t => t.Data).ToArray();

    [Test]
    public void TwoEpochsResumedToFourAreBitIdenticalToFourUninterrupted()
    {
        string whole = Path.Combine(_dir, "whole"), split = Path.Combine(_dir, "split");
        Ok(Train(whole, "--epochs", "4"));
        Ok(Train(split, "--epochs", "2"));
        var resumed = Ok("train", "--resume", split, "--epochs", "4", "--data", TestData.Mnist, "--accelerator", "cpu");
        Assert.That(resumed.Out, Does.Contain("resuming: epoch 3, batch 0, step 8").And.Not.Contains("epoch   2/4"));

        var (a, b) = (Weights(Path.Combine(whole, RunFolder.Model)), Weights(Path.Combine(split, RunFolder.Model)));
        Assert.That(b.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(a.Select(BitConverter.SingleToInt32Bits)));
        var (ma, mb) = (RunMetrics.Load(Path.Combine(whole, RunFolder.Metrics)), RunMetrics.Load(Path.Combine(split, RunFolder.Metrics)));
        Assert.That(mb.Epochs.Select(e => e.Loss), Is.EqualTo(ma.Epochs.Select(e => e.Loss)), "metrics.json keeps the epochs from before the resume");
        Assert.That(mb.Config, Is.EqualTo(ma.Config));
        var c = Checkpoint.Load(Path.Combine(split, Checkpoint.FileName));
        Assert.That((c.State.Epoch, c.State.Step, c.History.Count), Is.EqualTo((4, 16L, 4)));
    }

    [Test]
    public void ResumeRefusesAnotherDatasetAndContradictingOptions()
    {
        var run = Path.Combine(_dir, "run");
        Ok(Train(run, "--epochs", "2"));
        var before = File.ReadAllBytes(Path.Combine(run, Checkpoint.FileName));
        string[] Resume(params string[] extra) => ["train", "--resume", run, "--data", TestData.Mnist, "--accelerator", "cpu", .. extra];

        var other = TestData.Folder(Path.Combine(_dir, "other"), 1024, seed: 99);
        Refused(["train", "--resume", run, "--data", other, "--accelerator", "cpu", "--epochs", "3"], "--resume", "another dataset", other);
        Refused(Resume("--batch", "128"), "--batch 128 contradicts the run in", "which has --batch 256");
        Refused(Resume("--lr", "0.01"), "--lr 0.01 contradicts");
        Refused(Resume("--no-shuffle"), "--no-shuffle True contradicts");
        Refused(Resume("--limit", "512"), "--limit 512 contradicts");
        Refused(Resume("--epochs", "1"), "--epochs: 1 is fewer than the 2 epochs");
        Refused(Resume("--out", _dir), "--out: cannot be combined with --resume");
        Assert.That(File.ReadAllBytes(Path.Combine(run, Checkpoint.FileName)), Is.EqualTo(before), "refusals leave the checkpoint alone");

        // Options that agree with the checkpoint are accepted, so a command line can be repeated with --resume.
        Ok(Resume("--batch", "256", "--limit", "1000", "--epochs", "3"));
    }

    [Test]
    public void NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint()
    {
        var run = Path.Combine(_dir, "run");
        // Epoch 1 trains at lr 1e-3, epoch 2 at 1e9: the loss becomes NaN a few batches into epoch 2.
        var r = Gpuae.Run(Train(run, "--epochs", "3", "--gamma", "1e12"));
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.Failure), r.ToString());
        Assert.That(r.Err, Does.Match(@"gpuae: error: loss is (NaN|-?∞|-?Infinity) at epoch 2, batch \d of 4").And.Contain("last good checkpoint (after epoch 1)"));
        Assert.That(File.Exists(Path.Combine(run, RunFolder.Model)), Is.False, "no final model from diverged weights");
        var c = Checkpoint.Load(Path.Combine(run, Checkpoint.FileName));
        Assert.That((c.State.Epoch, c.State.Batch), Is.EqualTo((1, 0)));
        Assert.That(c.State.Parameters.All(float.IsFinite));
    }

    [Test]
    public void CheckpointEveryTwoOfFourEpochsCheckpointsAfterEpochsTwoAndFourOnly()
    {
        const int count = 250;
        var options = new TrainingOptions { Epochs = 4, BatchSize = 100, Seed = 5 };
        var set = new MnistSet(TestImages.Training(count), new byte[count]);
        var checkpoint = Path.Combine(_dir, Checkpoint.FileName);
        // Each finished epoch is reported before that epoch's checkpoint is written: what is on disk then
        // is the checkpoint of an earlier epoch, or none.
        var onDiskAtEpochEnd = new List<int>();
        void EpochDone(EpochResult _) => onDiskAtEpochEnd.Add(File.Exists(checkpoint) ? Checkpoint.Load(checkpoint).State.Epoch : 0);

        using var stop = new StopSignal();
        var quiet = new PlainProgress(TextWriter.Null, TextWriter.Null);
        var run = new TrainingRun(TestAccelerator.Kernels(Schedule.Cpu), new RunPlan(options, _dir, CheckpointEvery: 2, "resume"),
            new TrainingRun.Hooks(stop, quiet, EpochDone));
        Assert.That(run.Run(set, test: null), Is.EqualTo(RunOutcome.Finished));
        Assert.That(onDiskAtEpochEnd, Is.EqualTo(new[] { 0, 0, 2, 2 }), "the checkpoint on disk as epochs 1 to 4 end");
        Assert.That(Checkpoint.Load(checkpoint).State.Epoch, Is.EqualTo(4));
    }

    [Test]
    public void CheckpointEveryThinsOutCheckpointsButAlwaysWritesTheLast()
    {
        var run = Path.Combine(_dir, "run");
        Ok(Train(run, "--epochs", "3", "--checkpoint-every", "2", "--limit", "256"));
        Assert.That(Checkpoint.Load(Path.Combine(run, Checkpoint.FileName)).State.Epoch, Is.EqualTo(3));
        Assert.That(Directory.EnumerateFiles(run, ".*"), Is.Empty, "no temporary files remain");

        // Epoch 1 is not checkpointed, and epoch 2 diverges: there is no good checkpoint to point to.
        var thin = Path.Combine(_dir, "thin");
        var r = Gpuae.Run(Train(thin, "--epochs", "3", "--checkpoint-every", "2", "--limit", "256", "--batch", "64", "--gamma", "1e12"));
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.Failure), r.ToString());
        Assert.That(r.Err, Does.Contain("at epoch 2").And.Contain("no checkpoint had been written yet"));
        Assert.That(File.Exists(Path.Combine(thin, Checkpoint.FileName)), Is.False);
    }
}
