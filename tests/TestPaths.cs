using NUnit.Framework;

namespace GpuAutoencoder.Tests;

/// <summary>Locations tests share, found from the test binary so no machine path is baked in.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The shared MNIST folder next to the checkout, or null when this machine has none.</summary>
    public static string? SharedMnist
    {
        get
        {
            var dir = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data", "mnist"));
            return Directory.Exists(dir) ? dir : null;
        }
    }

    /// <summary>A new empty folder; unique per call so parallel tests and reruns never collide.</summary>
    public static string TempDir(string name) => Directory.CreateTempSubdirectory($"gpuae-test-{name}-").FullName;

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GpuAutoencoder.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no GpuAutoencoder.sln above {TestContext.CurrentContext.TestDirectory}");
    }
}
