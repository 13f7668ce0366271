using GpuAutoencoder.Kernels;
using System.Globalization;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.Cli;

/// <summary>The rules for a run's --out folder: what counts as a run already there, and what --resume may take from it.</summary>
public static class RunFolder
{
    public const string Model = "model.safetensors", Metrics = "metrics.json", Plot = "loss.png";
    static readonly string[] RunFiles = [Checkpoint.FileName, Model, Metrics, Plot];
    /// <summary>Where a run without --out gets its folder, named for the time it started.</summary>
    public const string DefaultParent = "runs";

    /// <summary>Refuses a folder that holds a run, finished or not, unless --force: either would be lost.</summary>
    public static void RefuseExistingRun(string dir, bool force)
    {
        if (force || !Directory.Exists(dir)) return;
        var checkpoint = Path.Combine(dir, Checkpoint.FileName);
        if (File.Exists(checkpoint))
        {
            Checkpoint c;
            try { c = Checkpoint.Load(checkpoint); }
            catch (Exception e) when (e is CheckpointException or SafeTensorsException)
            {
                throw new UsageException($"--out: {dir} holds a run whose checkpoint is unreadable ({e.Message}); pass --force to overwrite it");
            }
            if (c.State.Epoch < c.Options.Epochs)
                throw new UsageException($"--out: {dir} holds an unfinished run ({c.State.Epoch} of {c.Options.Epochs} epochs); " +
                    $"continue it with --resume {dir}, or pass --force to start over");
        }
        var existing = RunFiles.Where(f => File.Exists(Path.Combine(dir, f))).ToList();
        if (existing.Count > 0)
            throw new UsageException($"--out: {dir} already holds a finished run ({string.Join(", ", existing)}); pass --force to overwrite it, or choose another folder");
    }

    /// <summary>
    /// Refuses, before anything is created, output locations the run could not write to: an --out that is a
    /// file or lies in a folder that cannot be written, and -s or -p in a missing or unwritable folder.
    /// <paramref name="outDir"/> need not exist yet; -s and -p may point into it.
    /// </summary>
    public static void CheckOutputs(string outDir, string option, string? savePath, string? plotPath)
    {
        var outFull = Path.GetFullPath(outDir);
        var existing = outFull;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing))
                throw new UsageException(existing == outFull ? $"{option}: {outDir} is a file, not a folder" : $"{option}: {existing} is a file, not a folder, so {outDir} cannot be made in it");
            existing = Path.GetDirectoryName(existing) ?? throw new UsageException($"{option}: {outDir} cannot be made");
        }
        CheckWritable(existing, option);
        foreach (var (path, flag) in new[] { (savePath, "-s"), (plotPath, "-p") })
        {
            if (path == null) continue;
            var full = Path.GetFullPath(path);
            if (Directory.Exists(full)) throw new UsageException($"{flag}: {path} is a folder; give the file to write");
            var dir = Path.GetDirectoryName(full)!;
            if (dir == outFull) continue;
            if (File.Exists(dir)) throw new UsageException($"{flag}: {dir} is a file, not a folder");
            if (!Directory.Exists(dir)) throw new UsageException($"{flag}: folder {dir} does not exist");
            CheckWritable(dir, flag);
        }
    }

    static void CheckWritable(string dir, string option)
    {
        try { AtomicFile.CheckWritable(dir); }
        catch (UnauthorizedAccessException) { throw new UsageException($"{option}: cannot write in {dir}: permission denied"); }
        catch (IOException e) { throw new UsageException($"{option}: cannot write in {dir}: {(AtomicFile.IsDiskFull(e) ? "the disk is full" : e.Message)}"); }
    }

    /// <summary>
    /// Locks a new folder under <paramref name="parent"/> named for <paramref name="now"/>: a second run started in
    /// the same second, or one that finds that name taken, gets the next of name-2, name-3, … instead of a refusal.
    /// </summary>
    public static RunLock LockNew(string parent, DateTime now)
    {
        string stamp = now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        for (int n = 1; ; n++)
        {
            var dir = Path.Combine(parent, n == 1 ? stamp : $"{stamp}-{n}");
            if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any()) continue;
            if (RunLock.TryAcquire(dir, out _) is not { } taken) continue;
            // Another run may have taken and finished with this name between the look and the lock.
            if (taken.FolderIsEmpty) return taken;
            taken.Dispose();
        }
    }

    /// <summary>Deletes the files of an earlier run (for --force) and temporary files a killed write left behind.</summary>
    public static void Clear(string dir, bool earlierRun)
    {
        foreach (var name in RunFiles)
        {
            if (earlierRun) File.Delete(Path.Combine(dir, name));
            foreach (var temp in Directory.EnumerateFiles(dir, AtomicFile.TempPattern(name))) File.Delete(temp);
        }
    }

    /// <summary>
    /// The checkpoint in a --resume folder, and the options that continue it: those of the checkpoint,
    /// with --epochs as the new total. Options given on the command line must agree with it.
    /// </summary>
    public static (Checkpoint Checkpoint, TrainingOptions Options) Resume(string dir, TrainingOptions given, IReadOnlySet<string> explicitOptions)
    {
        if (!Directory.Exists(dir)) throw new UsageException($"--resume: folder {dir} does not exist");
        var path = Path.Combine(dir, Checkpoint.FileName);
        if (!File.Exists(path)) throw new UsageException($"--resume: {dir} holds no {Checkpoint.FileName} to continue from");
        Checkpoint c;
        try { c = Checkpoint.Load(path); }
        catch (Exception e) when (e is CheckpointException or SafeTensorsException)
        {
            throw new UsageException($"--resume: {dir}: {e.Message}");
        }

        var saved = c.Options;
        (string Option, object? Given, object? Saved)[] fixedByRun =
        [
            ("--batch", given.BatchSize, saved.BatchSize),
            ("--bottleneck", given.Bottleneck, saved.Bottleneck),
            ("--lr", given.LearningRate, saved.LearningRate),
            ("--gamma", given.Gamma, saved.Gamma),
            ("--seed", given.Seed, saved.Seed),
            ("--no-shuffle", !given.Shuffle, !saved.Shuffle),
            ("--limit", given.Limit, saved.Limit),
        ];
        foreach (var (option, value, original) in fixedByRun)
            if (explicitOptions.Contains(option) && !Equals(value, original))
                throw new UsageException($"--resume: {option} {value} contradicts the run in {dir}, which has {option} {original?.ToString() ?? "unset"}; leave it out to continue that run");

        var options = explicitOptions.Contains("--epochs") ? saved with { Epochs = given.Epochs } : saved;
        int started = c.State.Epoch + (c.State.Batch > 0 ? 1 : 0);
        if (options.Epochs < started)
            throw new UsageException($"--epochs: {options.Epochs} is fewer than the {started} epochs the run in {dir} has already started");
        return (c, options);
    }

    /// <summary>
    /// The precision a resume continues at: the run's own, unless --precision is given. A tf32 run is never
    /// continued at fp32 (or the other way) without the user asking, and when they ask, the notice says that the
    /// weights will differ from those of an uninterrupted run.
    /// </summary>
    public static (Precision Precision, string? Notice) ResumePrecision(Precision recorded, Precision? given)
    {
        if (given is not { } asked || asked == recorded) return (recorded, null);
        return (asked, $"the run trained at {Precisions.Name(recorded)} and continues at {Precisions.Name(asked)}, as --precision asks; " +
            $"the weights will not be those of an uninterrupted {Precisions.Name(recorded)} run");
    }

    /// <summary>A resume must see the very images the run was trained on.</summary>
    public static void CheckDataset(Checkpoint c, MnistSet set, string dataDir)
    {
        if (c.Images != set.Count)
            throw new UsageException($"--resume: the run was trained on {c.Images} images, but {dataDir} gives {set.Count}");
        if (c.DatasetSha256 != set.Sha256)
            throw new UsageException($"--resume: the run was trained on another dataset (SHA-256 {c.DatasetSha256}), but {dataDir} gives {set.Sha256}");
    }
}
