using System.Diagnostics;
using GpuAutoencoder.Cli;
using GpuAutoencoder.Training;

namespace GpuAutoencoder.Tests;

/// <summary>
/// One writer per run folder: a live gpuae child process holds its folder's lock, and every other run on that
/// folder is refused naming it; a killed holder leaves its PID file behind, but never a lock.
/// </summary>
public class TwoWriterTests
{
    const int Images = 128;
    string _dir = "", _data = "";

    [SetUp]
    public void SetUp()
    {
        _dir = TestPaths.TempDir("two-writers");
        _data = TestData.Folder(Path.Combine(_dir, "data"), Images);
    }

    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    string[] Train(string outDir, params string[] extra) =>
        ["train", "--accelerator", "cpu", "--data", _data, "--batch", "64", "--epochs", "1", "--out", outDir, .. extra];

    string[] Resume(string run, params string[] extra) => ["train", "--resume", run, "--data", _data, "--accelerator", "cpu", .. extra];

    static Gpuae.Result Ok(params string[] args)
    {
        var r = Gpuae.Run(args);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.Ok), r.ToString());
        return r;
    }

    /// <summary>Starts gpuae, which then holds its folder's lock for a minute before it loads anything, and waits until it does.</summary>
    static Process StartHolder(string[] args, string folder)
    {
        var child = Gpuae.Start(args, new Dictionary<string, string> { [TrainCommand.StartPauseEnvVar] = "60000" });
        _ = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        var pidFile = Path.Combine(folder, RunLock.PidFile);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60) && !child.HasExited)
        {
            try
            {
                if (File.Exists(pidFile) && File.ReadAllText(pidFile).Trim() == $"{child.Id}") return child;
            }
            catch (IOException) { }
            Thread.Sleep(20);
        }
        child.Kill();
        Assert.Fail($"the child did not lock {folder} within a minute; stderr:\n{(child.WaitForExit(5000) ? stderr.Result : "")}");
        return child;
    }

    static Dictionary<string, string> Snapshot(string dir) =>
        Directory.EnumerateFiles(dir).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    static void RefusedNaming(Gpuae.Result r, int pid, string option)
    {
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.BadInput), r.ToString());
        Assert.That(r.ErrLines, Has.Length.EqualTo(1), r.ToString());
        Assert.That(r.ErrLines[0], Does.StartWith($"gpuae: {option}: ").And.Contain($"in use by gpuae process {pid}"), r.ToString());
        Assert.That(r.Out, Is.Empty, r.ToString());
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "kills the holder with SIGKILL")]
    public void ASecondWriterIsRefusedWhileTheFirstLivesAndNotAfterItIsKilled()
    {
        var run = Path.Combine(_dir, "run");
        Ok(Train(run));
        using var holder = StartHolder(Resume(run, "--epochs", "2"), run);
        var before = Snapshot(run);
        var clock = Stopwatch.StartNew();

        RefusedNaming(Gpuae.Run(Resume(run, "--epochs", "3")), holder.Id, "--resume");
        // --force would delete the live run's files: it does not get past the lock either.
        RefusedNaming(Gpuae.Run(Train(run, "--force")), holder.Id, "--out");
        // And from another process, as a user would meet it.
        using (var second = Gpuae.Start(Train(run, "--force")))
        {
            var (stdout, stderr) = (second.StandardOutput.ReadToEndAsync(), second.StandardError.ReadToEndAsync());
            Assert.That(second.WaitForExit(60_000), "the second process is refused at once, not made to wait");
            RefusedNaming(new Gpuae.Result(second.ExitCode, stdout.Result, stderr.Result), holder.Id, "--out");
        }
        Assert.That(holder.HasExited, Is.False, "the holder was alive through every refusal");
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(55)), "the refusals came while the holder still paused");
        Assert.That(Snapshot(run), Is.EqualTo(before), "refused runs change nothing in the folder");

        holder.Kill(); // SIGKILL: the holder cannot clean up, and its PID file stays behind
        holder.WaitForExit();
        Assert.That(File.ReadAllText(Path.Combine(run, RunLock.PidFile)).Trim(), Is.EqualTo($"{holder.Id}"));

        Ok(Resume(run, "--epochs", "2"));
        Assert.That(Checkpoint.Load(Path.Combine(run, Checkpoint.FileName)).State.Epoch, Is.EqualTo(2));
        Assert.That(Directory.EnumerateFiles(run, ".*"), Is.Empty, "the stale PID file is gone with the run that replaced it");
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "kills the holder with SIGKILL")]
    public void ALockLeftByAKilledNewRunDoesNotBlockTheNextOne()
    {
        var run = Path.Combine(_dir, "run");
        using (var holder = StartHolder(Train(run), run))
        {
            holder.Kill();
            holder.WaitForExit();
        }
        Assert.That(File.Exists(Path.Combine(run, RunLock.PidFile)), "the killed run left its PID file");
        Ok(Train(run));
        Assert.That(Directory.EnumerateFiles(run).Select(Path.GetFileName),
            Is.EquivalentTo(new[] { Checkpoint.FileName, RunFolder.Metrics, RunFolder.Model, RunFolder.Plot }));
    }

    [Test]
    public void TheLockIsHeldUntilReleasedAndRefusesEvenInTheSameProcess()
    {
        var run = Path.Combine(_dir, "run");
        using (var first = RunLock.TryAcquire(run, out _))
        {
            Assert.That(first, Is.Not.Null);
            Assert.That(RunLock.TryAcquire(run, out var holder), Is.Null);
            Assert.That(holder, Is.EqualTo(Environment.ProcessId));
        }
        Assert.That(Directory.Exists(run), Is.False, "a folder the lock made and nothing used is removed with it");
        using (var again = RunLock.TryAcquire(run, out _)) Assert.That(again, Is.Not.Null);
    }

    [Test]
    public void TwoDefaultFoldersInTheSameSecondGetDistinctNames()
    {
        var runs = Path.Combine(_dir, "runs");
        var now = new DateTime(2026, 1, 2, 3, 4, 5);
        using var first = RunFolder.LockNew(runs, now);
        using var second = RunFolder.LockNew(runs, now);
        Assert.That(first.Folder, Is.EqualTo(Path.Combine(runs, "20260102-030405")));
        Assert.That(second.Folder, Is.EqualTo(Path.Combine(runs, "20260102-030405-2")));
        File.WriteAllText(Path.Combine(first.Folder, "x"), "");
        first.Dispose();
        // A taken name is skipped whether or not its run still holds it.
        using var third = RunFolder.LockNew(runs, now);
        Assert.That(third.Folder, Is.EqualTo(Path.Combine(runs, "20260102-030405-3")));
    }
}
