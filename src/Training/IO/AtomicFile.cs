using System.Security.Cryptography;

namespace GpuAutoencoder.Training.IO;

/// <summary>The disk filled up during a write; the file written is left as it was.</summary>
public sealed class DiskFullException(string path, Exception inner)
    : IOException($"cannot write {path}: the disk is full (no space left on device)", inner)
{
    public string Path => path;
}

/// <summary>
/// Writes files so that readers see either the old content or the complete new content, never a
/// half-written file: a crash or Ctrl+C mid-write must not leave a corrupt checkpoint or dataset.
/// </summary>
public static class AtomicFile
{
    /// <summary>
    /// Fault injection for tests: with GPUAE_FAULT_WRITE_PAUSE_MS=N every write pauses N ms after its
    /// content reaches the temporary file and before the flush and rename, so a test can kill the
    /// process inside that window every time instead of hoping to hit it. While it pauses, a marker
    /// file (the temporary file's name + <see cref="PausedSuffix"/>) says so. See docs/CHECKPOINT.md.
    /// </summary>
    public const string FaultPauseEnvVar = "GPUAE_FAULT_WRITE_PAUSE_MS";
    static readonly int faultPauseMs = int.TryParse(Environment.GetEnvironmentVariable(FaultPauseEnvVar), out var ms) ? ms : 0;
    public const string PausedSuffix = ".paused";

    /// <summary>Opens the temporary file <paramref name="temp"/> of a write of <paramref name="target"/> (both full paths).</summary>
    public delegate Stream Opener(string target, string temp);

    static readonly Opener Disk = (_, temp) => new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
    static readonly AsyncLocal<Opener?> injected = new();

    /// <summary>
    /// The seam for faults a test cannot make for real (a full disk, a folder root may not write in):
    /// until the result is disposed, writes started from this thread and the tasks it starts open
    /// their temporary files with <paramref name="open"/>, which may throw or return a stream that fails.
    /// </summary>
    public static IDisposable Inject(Opener open)
    {
        var previous = injected.Value;
        injected.Value = open;
        return new Restore(() => injected.Value = previous);
    }

    sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        // Same folder as the target, because a rename is only atomic within one file system.
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.tmp-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}");
        try
        {
            using (var stream = (injected.Value ?? Disk)(full, temp))
            {
                write(stream);
                if (faultPauseMs > 0) Pause(temp);
                // Without this the rename can reach the disk before the data, and a power loss
                // would leave an empty file under the final name.
                if (stream is FileStream file) file.Flush(flushToDisk: true);
                else stream.Flush();
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e)
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            if (e is IOException io && IsDiskFull(io)) throw new DiskFullException(path, e);
            throw;
        }
    }

    /// <summary>
    /// Throws what a write in <paramref name="dir"/> would throw (UnauthorizedAccessException, IOException), by
    /// creating and deleting an empty temporary file there the way <see cref="Write"/> does; the folder must exist.
    /// </summary>
    public static void CheckWritable(string dir)
    {
        var full = Path.GetFullPath(dir);
        var temp = Path.Combine(full, $".gpuae-write-check.tmp-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}");
        try
        {
            using var stream = (injected.Value ?? Disk)(Path.Combine(full, ".gpuae-write-check"), temp);
        }
        finally
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>ENOSPC on Linux and macOS (.NET puts the errno in HResult there), ERROR_DISK_FULL or ERROR_HANDLE_DISK_FULL on Windows.</summary>
    public static bool IsDiskFull(IOException e) => OperatingSystem.IsWindows()
        ? e.HResult is unchecked((int)0x80070070) or unchecked((int)0x80070027)
        : e.HResult == 28;

    static void Pause(string temp)
    {
        File.WriteAllBytes(temp + PausedSuffix, []);
        Thread.Sleep(faultPauseMs);
        File.Delete(temp + PausedSuffix);
    }

    /// <summary>The search pattern of the temporary files a write of <paramref name="fileName"/> uses; a process
    /// killed mid-write leaves one behind, which is safe to delete once no writer is running.</summary>
    public static string TempPattern(string fileName) => $".{fileName}.tmp-*";

    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, leaveOpen: true); w.Write(text); });

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, s => s.Write(bytes));
}
