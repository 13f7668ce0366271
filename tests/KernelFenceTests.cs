namespace GpuAutoencoder.Tests;

/// <summary>
/// ILGPU 1.5.3 writes <c>MemoryFence.DeviceLevel()</c> for OpenCL as a work-group barrier, which every
/// work-item of a group must reach: a fence inside a branch left PoCL's loss unwritten (H200 host,
/// 2026-12-04), while CUDA and the CPU accelerator, where a fence is only a fence, could not show it.
/// This scan keeps every fence in the kernels at the top level of its method, outside any block or
/// one-line if. It cannot see a divergent early return before a fence; the comments at each fence,
/// and selftest on OpenCL, cover that.
/// </summary>
public class KernelFenceTests
{
    // Members of a class in a file-scoped namespace are indented 4 spaces, their bodies 8.
    const string MethodBody = "        ";

    [Test]
    public void EveryDeviceFenceInTheKernelsIsAtTheTopLevelOfItsMethod()
    {
        int fences = 0;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "src", "Kernels"), "*.cs"))
        {
            var lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                if (!lines[i].Contains("MemoryFence.") || lines[i].TrimStart().StartsWith("//", StringComparison.Ordinal)) continue;
                fences++;
                string where = $"{Path.GetFileName(file)}:{i + 1}: {lines[i].Trim()}";
                Assert.That(lines[i], Does.StartWith(MethodBody + "MemoryFence."), $"{where} is inside a block or a branch");
                string before = lines[i - 1].Trim();
                bool guarded = (before.StartsWith("if ", StringComparison.Ordinal) || before.StartsWith("else", StringComparison.Ordinal)) && !before.EndsWith(';');
                Assert.That(guarded, Is.False, $"{where} is the body of a one-line if");
            }
        }
        Assert.That(fences, Is.GreaterThanOrEqualTo(4), "the scan found too few fences; have the kernels changed shape?");
    }
}
