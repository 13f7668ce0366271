using GpuAutoencoder.KernelReport;
using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Tests;

/// <summary>
/// What can be checked of the CUDA kernels without a GPU: every kernel the product loads compiles
/// to PTX and ptxas assembles it for the Ampere and Hopper architectures, and none keeps anything in
/// local memory (a stack frame, spills, LDL/STL), which is off-chip and slow. ptxas and cuobjdump
/// come from the PATH or from where scripts/kernel-report.sh --fetch-only puts them (CI runs that).
/// </summary>
[NonParallelizable]
public class KernelAssemblyTests
{
    // The architectures gpuae's GPU paths are written for: TF32 needs 8.0, and the H200 is 9.0.
    static readonly string[] Architectures = ["sm_80", "sm_90"];

    [Test]
    public void EveryKernelAssemblesWithNothingInLocalMemory()
    {
        var tools = CudaTools.Find(out var searched);
        if (tools == null)
            Assert.Ignore($"ptxas and cuobjdump not found in {searched}; scripts/kernel-report.sh --fetch-only installs them");

        var offenders = new List<string>();
        using var inspector = new KernelInspector(tools);
        foreach (var (arch, kernel) in Architectures.SelectMany(a => KernelCatalog.All.Select(k => (a, k))))
        {
            try
            {
                var f = inspector.Build(kernel, arch).Figures;
                if (f.UsesLocalMemory)
                    offenders.Add($"{arch} {f.Name}: {f.StackBytes} B stack, {f.SpillStoreBytes} B spill stores, {f.SpillLoadBytes} B spill loads, {f.LocalOps} LDL/STL ({f.Registers} registers)");
            }
            catch (Exception e)
            {
                // Reported with the others rather than thrown, so one failure names every broken kernel.
                offenders.Add($"{arch} {kernel.Name}: does not compile or assemble: {e.Message}");
            }
        }
        Assert.That(offenders, Is.Empty,
            $"{offenders.Count} of {Architectures.Length * KernelCatalog.All.Count} kernel builds fail (scripts/kernel-report.sh --arch ARCH shows their figures):\n  " +
            string.Join("\n  ", offenders));
    }
}
