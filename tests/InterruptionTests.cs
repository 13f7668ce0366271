using System.Diagnostics;
using System.Text;
using GpuAutoencoder.Cli;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.Tests;

/// <summary>Signals and SIGKILL against a real gpuae child process.</summary>
[Platform(Exclude = "Win", Reason = "sends POSIX signals")]
public class InterruptionTests
{
    const int Images = 512;
    string _dir = "", _data = "";

    [SetUp]
    public void SetUp()
    {
        _dir = TestPaths.TempDir("interrupt");
        _data = TestData.Folder(Path.Combine(_dir, "data"), Images);
    }

    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    string[] Train(string outDir, params string[] extra) =>
        ["train", "--accelerator", "cpu", "--data", _data, "--batch", "64", "--out", outDir, .. extra];

    static Gpuae.Result Ok(params string[] args)
    {
        var r = Gpuae.Run(args);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.Ok), r.ToString());
        return r;
    }

    static float[] Weights(string path) =>
        SafeTensors.Read(path).Tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal).SelectMany(t => t.Data).ToArray();

    [TestCase(2, "SIGINT")]
    [TestCase(15, "SIGTERM")]
    public void SignalFinishesTheBatchCheckpointsAndExits130(int signal, string name)
    {
        var run = Path.Combine(_dir, "run");
        using var child = Gpuae.Start(Train(run, "--epochs", "1000"));
        var stderr = child.StandardError.ReadToEndAsync();
        var stdout = new StringBuilder();
        // Signal once epoch 1 is done, so the run is inside epoch 2 with a checkpoint behind it.
        while (child.StandardOutput.ReadLine() is { } line)
        {
            stdout.AppendLine(line);
            if (line.StartsWith("epoch ", StringComparison.Ordinal)) break;
        }
        Gpuae.Signal(child, signal);
        stdout.Append(child.StandardOutput.ReadToEnd());
        Assert.That(child.WaitForExit(60_000), "the child exits soon after the signal");
        var report = $"stdout:\n{stdout}\nstderr:\n{stderr.Result}";

        Assert.That(child.ExitCode, Is.EqualTo(ExitCodes.Interrupted), report);
        Assert.That(stderr.Result, Does.Contain($"{name}: stopping after the current batch")
            .And.Contain($"checkpoint written to {Path.Combine(run, Checkpoint.FileName)}")
            .And.Contain($"resume with: gpuae train --resume {run}"), report);
        var c = Checkpoint.Load(Path.Combine(run, Checkpoint.FileName));
        Assert.That(c.State.Epoch, Is.GreaterThanOrEqualTo(1), report);
        Assert.That(File.Exists(Path.Combine(run, RunFolder.Model)), Is.False);

        var again = Gpuae.Run(Train(run, "--epochs", "1000"));
        Assert.That((again.Exit, again.ErrLines.Length), Is.EqualTo((ExitCodes.BadInput, 1)), again.ToString());
        Assert.That(again.Err, Does.Contain("holds an unfinished run").And.Contain($"--resume {run}"));

        // Finishing the interrupted epoch gives the weights of a run that was never interrupted.
        int epochs = c.State.Epoch + (c.State.Batch > 0 ? 1 : 0);
        Ok("train", "--resume", run, "--epochs", $"{epochs}", "--data", _data, "--accelerator", "cpu");
        var whole = Path.Combine(_dir, "whole");
        Ok(Train(whole, "--epochs", $"{epochs}"));
        Assert.That(Weights(Path.Combine(run, RunFolder.Model)), Is.EqualTo(Weights(Path.Combine(whole, RunFolder.Model))),
            $"stopped in epoch {c.State.Epoch + 1} after batch {c.State.Batch}");
    }

    [Test]
    public void SigkillDuringACheckpointWriteLeavesThePreviousCheckpointLoadable()
    {
        // Each write pauses before its flush and rename and leaves a marker while it does; the kill
        // lands on that marker, so it is inside the write every time. The pause only has to outlast
        // the time from seeing the marker to the kill.
        const int pauseMs = 2000;
        string run = "";
        Checkpoint? survivor = null;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            run = Path.Combine(_dir, $"run{attempt}");
            var checkpoint = Path.Combine(run, Checkpoint.FileName);
            using var child = Gpuae.Start(Train(run, "--epochs", "1000", "--limit", "256"),
                new Dictionary<string, string> { [AtomicFile.FaultPauseEnvVar] = $"{pauseMs}" });
            _ = child.StandardOutput.ReadToEndAsync();
            var stderr = child.StandardError.ReadToEndAsync();

            // Wait for a write over an existing checkpoint to pause: the old file is still in place.
            byte[]? previous = null;
            var clock = Stopwatch.StartNew();
            while (previous == null && clock.Elapsed < TimeSpan.FromSeconds(180) && !child.HasExited)
            {
                if (File.Exists(checkpoint) && Directory.EnumerateFiles(run, AtomicFile.TempPattern(Checkpoint.FileName) + AtomicFile.PausedSuffix).Any())
                    previous = File.ReadAllBytes(checkpoint);
                else Thread.Sleep(5);
            }
            Assert.That(previous, Is.Not.Null, $"no paused write over a checkpoint within 3 minutes; stderr:\n{(child.HasExited ? stderr.Result : "")}");
            child.Kill(); // SIGKILL: no handler, no finally block runs
            child.WaitForExit();

            Assert.That(Directory.EnumerateFiles(run, AtomicFile.TempPattern(Checkpoint.FileName) + AtomicFile.PausedSuffix), Is.Not.Empty,
                "the kill landed while the write was paused");
            Assert.That(File.ReadAllBytes(checkpoint), Is.EqualTo(previous), "the previous checkpoint is untouched");
            survivor = Checkpoint.Load(checkpoint);
            Assert.That(survivor.State.Epoch, Is.GreaterThanOrEqualTo(1));
        }

        // The killed run continues, and the temporary file it left is cleared away.
        Ok("train", "--resume", run, "--epochs", $"{survivor!.State.Epoch + 1}", "--data", _data, "--accelerator", "cpu");
        Assert.That(Directory.EnumerateFiles(run, ".*"), Is.Empty);
        Assert.That(Checkpoint.Load(Path.Combine(run, Checkpoint.FileName)).State.Epoch, Is.EqualTo(survivor.State.Epoch + 1));
    }
}
