using System.Diagnostics;

namespace GpuAutoencoder.KernelReport;

/// <summary>
/// NVIDIA's ptxas and cuobjdump, which assemble PTX and disassemble the result without a GPU.
/// Found on the PATH, else where scripts/kernel-report.sh unpacks Debian's nvidia-cuda-toolkit.
/// </summary>
public sealed class CudaTools(string ptxas, string cuobjdump)
{
    public string Ptxas { get; } = ptxas;
    public string Cuobjdump { get; } = cuobjdump;

    /// <summary>The folder scripts/kernel-report.sh downloads and unpacks the toolkit into.</summary>
    public static string CacheFolder
    {
        get
        {
            var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (string.IsNullOrEmpty(cache))
                cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(cache, "gpuae", "cuda");
        }
    }

    /// <summary>Both tools, or null with <paramref name="searched"/> saying where they were looked for.</summary>
    public static CudaTools? Find(out string searched)
    {
        var unpacked = Path.Combine(CacheFolder, "toolkit", "usr", "bin");
        searched = $"the PATH and {unpacked}";
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append(unpacked);
        foreach (var dir in dirs)
        {
            string ptxas = Path.Combine(dir, "ptxas"), cuobjdump = Path.Combine(dir, "cuobjdump");
            if (File.Exists(ptxas) && File.Exists(cuobjdump)) return new CudaTools(ptxas, cuobjdump);
        }
        return null;
    }

    /// <summary>ptxas's own version line, e.g. "Cuda compilation tools, release 11.8, V11.8.89".</summary>
    public string PtxasVersion() =>
        Run(Ptxas, ["--version"]).Split('\n').LastOrDefault(l => l.Contains("release"))?.Trim() ?? "unknown";

    /// <summary>Assembles <paramref name="ptxFile"/> for <paramref name="arch"/> with -v; returns ptxas's report.</summary>
    public string Assemble(string ptxFile, string arch, string cubinFile) =>
        Run(Ptxas, [$"-arch={arch}", "-v", ptxFile, "-o", cubinFile]);

    public string DisassembleSass(string cubinFile) => Run(Cuobjdump, ["-sass", cubinFile]);

    static string Run(string tool, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {tool}");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string output = stdout + stderr.Result;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(tool)} {string.Join(' ', start.ArgumentList)} exited with {process.ExitCode}:\n{output}");
        return output;
    }
}
