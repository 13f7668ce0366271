using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace GpuAutoencoder.KernelReport;

/// <summary>Writes kernels.json, kernels.md and each kernel's PTX and SASS into one folder.</summary>
public static class ReportWriter
{
    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(string folder, string arch, string ptxasVersion, IReadOnlyList<KernelBuild> builds)
    {
        Directory.CreateDirectory(folder);
        // Old files go first, so a renamed or removed kernel leaves nothing stale behind.
        foreach (var stale in Directory.EnumerateFiles(folder).Where(f => f.EndsWith(".ptx") || f.EndsWith(".sass")))
            File.Delete(stale);
        foreach (var build in builds)
        {
            File.WriteAllText(Path.Combine(folder, build.Kernel.Name + ".ptx"), build.Ptx);
            File.WriteAllText(Path.Combine(folder, build.Kernel.Name + ".sass"), build.Sass.Text());
        }
        var figures = builds.Select(b => b.Figures).ToList();
        string ptxTarget = string.Join(", ", builds.Select(b => Regex.Match(b.Ptx, @"^\.target (\w+)", RegexOptions.Multiline).Groups[1].Value).Distinct());
        var document = new { Arch = arch, Ptxas = ptxasVersion, PtxIsa = "7.8", PtxTarget = ptxTarget, Gpu = "H200 (occupancy model)", Kernels = figures };
        File.WriteAllText(Path.Combine(folder, "kernels.json"), JsonSerializer.Serialize(document, Json) + "\n");
        File.WriteAllText(Path.Combine(folder, "kernels.md"), Markdown(arch, ptxasVersion, ptxTarget, figures));
    }

    static string Markdown(string arch, string ptxasVersion, string ptxTarget, IReadOnlyList<KernelFigures> kernels)
    {
        var md = new StringBuilder();
        md.AppendLine($"# Kernels on {arch}")
          .AppendLine()
          .AppendLine($"Every kernel gpuae loads on CUDA, compiled by ILGPU's PTX backend (PTX ISA 7.8) and assembled by ptxas ({ptxasVersion}) for {arch}, without a GPU. Written by `scripts/kernel-report.sh --arch {arch}`; the figures are in `kernels.json`, each kernel's PTX and SASS beside it.")
          .AppendLine()
          .AppendLine("| kernel | grouping | regs | smem B | stack B | spill B | LDL/STL | SASS instr | block threads | warps/SM (of 64) |")
          .AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var k in kernels)
            md.AppendLine($"| {k.Name} | {k.Grouping} | {k.Registers} | {k.SharedBytes} | {k.StackBytes} | {k.SpillBytes} | {k.LocalOps} | {k.Instructions} | {k.BlockThreads} | {k.OccupancyWarpsPerSm} |");
        md.AppendLine()
          .AppendLine("## Inner loops of the matrix products (per iteration)")
          .AppendLine()
          .AppendLine("| kernel | instructions | FFMA | HMMA | LDS (by width) | global loads (by width) | STS | BAR.SYNC |")
          .AppendLine("|---|---:|---:|---:|---|---|---:|---:|");
        foreach (var k in kernels.Where(k => k.InnerLoop != null))
        {
            var l = k.InnerLoop!;
            md.AppendLine($"| {k.Name} | {l.Instructions} | {l.FfmaPerIter} | {l.HmmaPerIter} | {Widths(l.LdsPerIter, l.LdsWidths)} | {Widths(l.LdgPerIter, l.LdgWidths)} | {l.StsPerIter} | {l.BarriersPerIter} |");
        }
        md.AppendLine()
          .AppendLine("## How the figures are read")
          .AppendLine()
          .AppendLine($"- **PTX**: ILGPU 1.5.3 writes `.target {ptxTarget}` whatever the GPU (the lowest architecture that has every capability it knows of); the driver JIT-compiles that PTX for the GPU it runs on, as ptxas -arch={arch} does here. The driver's compiler is newer than this ptxas, so its register counts may differ a little.")
          .AppendLine("- **regs, smem, stack, spill**: ptxas -v (spill = spill stores + spill loads). **LDL/STL**: local-memory loads and stores in the SASS (cuobjdump -sass); stack, spills and LDL/STL should all be 0.")
          .AppendLine("- **block threads**: the group size the launcher passes for explicitly grouped kernels. For implicitly grouped ones ILGPU asks the driver (cuOccupancyMaxPotentialBlockSize), which picks the largest block, in whole warps up to 1024, among those keeping the most threads resident; the same rule is applied here to the model below.")
          .AppendLine("- **warps/SM** on an H200 (65,536 registers, 228 KB shared memory, 64 warps and 32 blocks per SM):")
          .AppendLine("  - warps per block W = ⌈threads / 32⌉; registers per warp = ⌈regs · 32 / 256⌉ · 256")
          .AppendLine("  - blocks by registers = ⌊⌊65536 / registers per warp⌋ / W⌋ (none fit if registers per warp · W > 65536)")
          .AppendLine("  - blocks by shared memory = ⌊233472 / (⌈(smem + 1024) / 128⌉ · 128)⌋ (1 KB reserved per block; none fit above 227 KB)")
          .AppendLine("  - blocks = min(⌊64 / W⌋, 32, blocks by registers, blocks by shared memory); warps/SM = blocks · W")
          .AppendLine("- **inner loop**: a loop is a backward branch (a BRA to an earlier address) and everything from its target to it, the last such branch where several share a target. Among the loops that hold any FFMA or HMMA, the innermost ones (containing no other such loop) are candidates, and the one with the most FFMA/HMMA is the inner loop. Its counts are every instruction in that address range, so both sides of a branch inside the body are counted.")
          .AppendLine("- **global loads**: LDG and the generic LD (ILGPU emits a generic ld for ArrayView reads; its shared-memory reads are ld.shared, so LD reads global memory here).");
        return md.ToString();
    }

    static string Widths(int total, IReadOnlyDictionary<string, int> byOpcode) =>
        byOpcode.Count == 0 ? "0" : $"{total} ({string.Join(", ", byOpcode.Select(w => $"{w.Value}× {w.Key}"))})";
}
