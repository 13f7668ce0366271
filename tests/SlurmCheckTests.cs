using System.Diagnostics;

namespace GpuAutoencoder.Tests;

/// <summary>
/// scripts/slurm-check.sh on a real one-node Slurm: docs/SWEEPS.md's job file runs the sweep's shards as
/// a job array, their merge equals the unsharded sweep byte for byte, and a task cancelled mid-run with
/// scancel resumes from its checkpoint when resubmitted. Runs where Slurm can be started: as root, with
/// slurm-wlm and munge installed (.ci/run installs them); skipped with the reason elsewhere.
/// </summary>
[NonParallelizable]
[Platform(Include = "Linux", Reason = "Slurm runs on Linux only")]
public class SlurmCheckTests
{
    /// <summary>The script's exit code for "Slurm cannot be started here".</summary>
    const int Skipped = 77;

    static bool Installed(string command) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/sbin"])
            .Any(dir => dir.Length > 0 && File.Exists(Path.Combine(dir, command)));

    [Test]
    public void ShardsRunAsASlurmJobArrayAndMergeIntoTheUnshardedSweep()
    {
        if (!Environment.IsPrivilegedProcess) Assert.Ignore("Slurm needs root here: slurmd runs every job as the user who submitted it");
        var missing = new[] { "slurmctld", "slurmd", "sbatch", "munged" }.Where(c => !Installed(c)).ToList();
        if (missing.Count > 0)
            Assert.Ignore($"Slurm is not installed ({string.Join(", ", missing)} missing); scripts/slurm-check.sh --install installs slurm-wlm and munge");

        // The jobs run the gpuae these tests built, as `dotnet gpuae.dll`.
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var psi = new ProcessStartInfo("bash", [Path.Combine(TestPaths.RepoRoot, "scripts", "slurm-check.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["GPUAE"] = $"'{dotnet}' '{Gpuae.Dll}'";
        using var script = Process.Start(psi)!;
        var stdout = script.StandardOutput.ReadToEndAsync();
        var stderr = script.StandardError.ReadToEndAsync();
        // The script cleans up after itself on SIGTERM; a hang past this is a failure, not a wait for ever.
        if (!script.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            Gpuae.Signal(script, 15);
            script.WaitForExit(TimeSpan.FromMinutes(1));
            Assert.Fail($"slurm-check.sh ran past 10 minutes\n{stdout.Result}\n{stderr.Result}");
        }
        string output = $"stdout:\n{stdout.Result}\nstderr:\n{stderr.Result}";
        TestContext.Out.WriteLine(output);
        if (script.ExitCode == Skipped) Assert.Ignore(stderr.Result.Trim());

        Assert.That(script.ExitCode, Is.Zero, output);
        var lines = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(stdout.Result, Does.Contain("slurm-check: task 1 cancelled mid-run, resubmitted, resumed from its checkpoint, merged equal"), output);
        Assert.That(lines[^1], Is.EqualTo("slurm: 2 shards, 4 runs merged, all equal"), output);
    }
}
