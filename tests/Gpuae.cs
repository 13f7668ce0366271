using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using GpuAutoencoder.Cli;

namespace GpuAutoencoder.Tests;

/// <summary>Runs the gpuae command line: in this process for speed, or as a child process where a test must signal or kill it.</summary>
public static class Gpuae
{
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int SendSignal(int pid, int signal);

    /// <summary>Sends POSIX <paramref name="signal"/> (2 SIGINT, 15 SIGTERM, 9 SIGKILL) to a child, asserting it was delivered.</summary>
    public static void Signal(Process child, int signal) =>
        Assert.That(SendSignal(child.Id, signal), Is.Zero, $"kill failed: errno {Marshal.GetLastPInvokeError()}");

    public sealed record Result(int Exit, string Out, string Err)
    {
        public string[] ErrLines => Err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        public override string ToString() => $"exit {Exit}\nstdout:\n{Out}\nstderr:\n{Err}";
    }

    static readonly object console = new();

    /// <summary>Program.Main with stdout and stderr captured.</summary>
    public static Result Run(params string[] args)
    {
        lock (console)
        {
            var (stdout, stderr) = (Console.Out, Console.Error);
            var (o, e) = (new StringWriter(), new StringWriter());
            Console.SetOut(o);
            Console.SetError(e);
            try { return new Result(Program.Main(args), o.ToString(), e.ToString()); }
            finally
            {
                Console.SetOut(stdout);
                Console.SetError(stderr);
            }
        }
    }

    /// <summary>The built gpuae.dll: copied next to the tests by the project reference, else under src/Cli/bin.</summary>
    public static string Dll
    {
        get
        {
            var here = Path.Combine(TestContext.CurrentContext.TestDirectory, "gpuae.dll");
            if (File.Exists(here)) return here;
            return Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "src", "Cli", "bin"), "gpuae.dll", SearchOption.AllDirectories)
                .FirstOrDefault() ?? throw new FileNotFoundException("gpuae.dll is not built");
        }
    }

    /// <summary>Starts `dotnet gpuae.dll args` with its output redirected; the caller reads or drains it.</summary>
    public static Process Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        // The SDK names the dotnet it runs tests with; the test host itself may be an apphost.
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var psi = new ProcessStartInfo(dotnet, [Dll, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) psi.Environment[key] = value;
        return Process.Start(psi) ?? throw new InvalidOperationException("could not start gpuae");
    }
}

/// <summary>MNIST-shaped IDX files for CLI tests, intact or broken in one chosen way.</summary>
public static class TestData
{
    static readonly Lazy<string> generated = new(() => Folder(TestPaths.TempDir("mnist"), 4096));

    /// <summary>The shared MNIST when this machine has it, else a folder of generated images (4096 of them).</summary>
    public static string Mnist => TestPaths.SharedMnist ?? generated.Value;

    /// <summary>
    /// Writes raw IDX files of generated images into dir, as MNIST has them: <paramref name="count"/>
    /// training images and a test split a quarter that size (at least one), drawn apart from them.
    /// </summary>
    public static string Folder(string dir, int count, int seed = 1234)
    {
        Directory.CreateDirectory(dir);
        int testCount = Math.Max(1, count / 4);
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), Images(TestImages.Synthetic(count, seed), count));
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte"), Labels(count));
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), Images(TestImages.Synthetic(testCount, seed + 1), testCount));
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), Labels(testCount));
        return dir;
    }

    public static byte[] Images(byte[] pixels, int count, int rows = 28, int cols = 28, int magic = 0x803)
    {
        var bytes = new byte[16 + pixels.Length];
        foreach (var (offset, value) in new[] { (0, magic), (4, count), (8, rows), (12, cols) })
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(offset), value);
        pixels.CopyTo(bytes, 16);
        return bytes;
    }

    public static byte[] Labels(int count, int magic = 0x801)
    {
        var bytes = new byte[8 + count];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        for (int i = 0; i < count; i++) bytes[8 + i] = (byte)(i % 10);
        return bytes;
    }
}
