using System.Globalization;
using System.Runtime.InteropServices;

namespace GpuAutoencoder.Cli;

/// <summary>
/// Keeps a second gpuae from writing into a run folder that a live one is using. On Linux and macOS
/// the folder itself is locked with flock(2); the kernel drops that lock when the process ends in
/// any way, SIGKILL included, so a killed run never blocks a later one. The holder's PID goes into
/// a sidecar file, <see cref="PidFile"/>, only so that a refused run can name it: the PID file
/// proves nothing by itself (a killed run leaves it behind), the lock does. On Windows a lock
/// file opened without sharing plays the part of flock.
/// </summary>
public sealed class RunLock : IDisposable
{
    public const string PidFile = ".gpuae.pid", LockFile = ".gpuae.lock";

    readonly int fd = -1;
    readonly FileStream? lockFile;
    readonly string? createdTop;
    bool released;

    /// <summary>The folder locked, as given.</summary>
    public string Folder { get; }

    RunLock(string folder, int fd, FileStream? lockFile, string? createdTop)
    {
        (Folder, this.fd, this.lockFile, this.createdTop) = (folder, fd, lockFile, createdTop);
    }

    /// <summary>
    /// Locks <paramref name="dir"/>, creating it (and its parents) when missing, or returns null with the PID of
    /// the process holding it (null when that process has not written it yet). Never waits for the other process.
    /// </summary>
    public static RunLock? TryAcquire(string dir, out int? holder)
    {
        holder = null;
        string? createdTop = null;
        for (var d = new DirectoryInfo(Path.GetFullPath(dir)); d != null && !d.Exists; d = d.Parent) createdTop = d.FullName;
        Directory.CreateDirectory(dir);
        for (int attempt = 0; ; attempt++)
        {
            RunLock? taken = OperatingSystem.IsWindows() ? LockWithFile(dir, createdTop) : LockWithFlock(dir, createdTop);
            if (taken == null)
            {
                holder = ReadHolder(dir);
                return null;
            }
            // A refused run removes the folder it created while still holding the lock; whoever opened
            // the folder before that and locks it after holds a lock on a folder that is gone. Start over.
            if (Directory.Exists(dir) || attempt == 3)
            {
                File.WriteAllText(Path.Combine(dir, PidFile), Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
                return taken;
            }
            taken.Dispose();
            Directory.CreateDirectory(dir);
        }
    }

    /// <summary>Locks <paramref name="dir"/> or refuses, in one line naming the process that holds it.</summary>
    public static RunLock Acquire(string dir, string option) =>
        TryAcquire(dir, out var holder) ?? throw new UsageException(
            $"{option}: {dir} is in use by {(holder is { } pid ? $"gpuae process {pid}" : "another gpuae process")}, which is still running; " +
            "wait for it to end or stop it (--force does not override this)");

    /// <summary>True when the folder holds nothing but this lock's own files.</summary>
    public bool FolderIsEmpty => Directory.EnumerateFileSystemEntries(Folder).All(e => Path.GetFileName(e) is PidFile or LockFile);

    static int? ReadHolder(string dir)
    {
        // The holder writes its PID just after it takes the lock: give it a moment when it has just started.
        for (int i = 0; i < 10; i++)
        {
            try
            {
                if (int.TryParse(File.ReadAllText(Path.Combine(dir, PidFile)).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                    return pid;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            Thread.Sleep(50);
        }
        return null;
    }

    const int LOCK_EX = 2, LOCK_NB = 4;
    static int OpenFlags => OperatingSystem.IsMacOS() ? 0x1000000 : 0x80000; // O_RDONLY | O_CLOEXEC: a child process must not inherit the lock
    static int EWOULDBLOCK => OperatingSystem.IsMacOS() ? 35 : 11;

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "flock", SetLastError = true)]
    static extern int Flock(int fd, int operation);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    static extern int Close(int fd);

    static RunLock? LockWithFlock(string dir, string? createdTop)
    {
        int fd = Open(Path.GetFullPath(dir), OpenFlags);
        if (fd < 0) throw new IOException($"cannot open {dir} to lock it (errno {Marshal.GetLastPInvokeError()})");
        if (Flock(fd, LOCK_EX | LOCK_NB) == 0) return new RunLock(dir, fd, null, createdTop);
        int errno = Marshal.GetLastPInvokeError();
        Close(fd);
        if (errno == EWOULDBLOCK) return null;
        throw new IOException($"cannot lock {dir} (errno {errno})");
    }

    static RunLock? LockWithFile(string dir, string? createdTop)
    {
        try
        {
            var file = new FileStream(Path.Combine(dir, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            return new RunLock(dir, -1, file, createdTop);
        }
        catch (IOException e) when ((e.HResult & 0xFFFF) == 32) // ERROR_SHARING_VIOLATION
        {
            return null;
        }
    }

    /// <summary>
    /// Releases the lock and removes the PID file; a folder this lock created and that is still empty (the run
    /// was refused or stopped before it wrote anything) is removed too, so that it leaves nothing behind.
    /// </summary>
    public void Dispose()
    {
        if (released) return;
        released = true;
        try { File.Delete(Path.Combine(Folder, PidFile)); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        // Removed while the lock is still held, so no other process can lock the folder in between.
        if (fd >= 0 && createdTop != null) RemoveIfEmpty();
        if (fd >= 0) Close(fd);
        lockFile?.Dispose();
        if (fd < 0 && createdTop != null) RemoveIfEmpty();
    }

    void RemoveIfEmpty()
    {
        try
        {
            var stop = Path.GetDirectoryName(createdTop!);
            for (var d = Path.GetFullPath(Folder); d != stop && d != null; d = Path.GetDirectoryName(d))
            {
                if (Directory.EnumerateFileSystemEntries(d).Any()) return;
                Directory.Delete(d);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
