using GpuAutoencoder.Kernels;
using GpuAutoencoder.KernelReport;

// gpuae-kernel-report [--arch sm_90] [--out DIR]: see scripts/kernel-report.sh, which fetches ptxas first.
string arch = "sm_90", output = "";
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--arch" when i + 1 < args.Length: arch = args[++i]; break;
        case "--out" when i + 1 < args.Length: output = args[++i]; break;
        default:
            Console.Error.WriteLine($"usage: KernelReport [--arch sm_90] [--out DIR]; unexpected '{args[i]}'");
            return 2;
    }
}
if (output == "") output = Path.Combine("docs", "kernels", arch);

var tools = CudaTools.Find(out var searched);
if (tools == null)
{
    Console.Error.WriteLine($"ptxas and cuobjdump not found in {searched}; scripts/kernel-report.sh fetches them");
    return 2;
}

using var inspector = new KernelInspector(tools);
var builds = new List<KernelBuild>();
foreach (var kernel in KernelCatalog.All)
{
    var build = inspector.Build(kernel, arch);
    var f = build.Figures;
    Console.WriteLine($"{f.Name,-52} {f.Registers,3} regs {f.SharedBytes,6} B smem {f.StackBytes,4} B stack {f.SpillBytes,4} B spill {f.LocalOps,3} LDL/STL {f.OccupancyWarpsPerSm,2} warps/SM");
    builds.Add(build);
}
ReportWriter.Write(output, arch, tools.PtxasVersion(), builds);
Console.WriteLine($"wrote {Path.Combine(output, "kernels.md")} and kernels.json");
return 0;
