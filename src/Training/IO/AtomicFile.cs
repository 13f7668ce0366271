using System.Security.Cryptography;

namespace GpuAutoencoder.Training.IO;

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

    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        // Same folder as the target, because a rename is only atomic within one file system.
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.tmp-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                if (faultPauseMs > 0) Pause(temp);
                // Without this the rename can reach the disk before the data, and a power loss
                // would leave an empty file under the final name.
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

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
