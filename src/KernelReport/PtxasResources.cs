using System.Text.RegularExpressions;

namespace GpuAutoencoder.KernelReport;

/// <summary>What ptxas -v reports for one entry function: registers, memory and spills.</summary>
public sealed record PtxasResources(int Registers, int SharedBytes, int StackBytes, int SpillStoreBytes, int SpillLoadBytes)
{
    public int SpillBytes => SpillStoreBytes + SpillLoadBytes;

    /// <summary>Reads the figures of a report that holds exactly one entry function.</summary>
    public static PtxasResources Parse(string report)
    {
        var registers = Regex.Matches(report, @"Used (\d+) registers");
        if (registers.Count != 1)
            throw new FormatException($"expected one 'Used N registers' line in ptxas's report, found {registers.Count}:\n{report}");
        var frame = Regex.Match(report, @"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads");
        if (!frame.Success) throw new FormatException($"no stack frame line in ptxas's report:\n{report}");
        // ptxas leaves smem out of the line when a kernel uses none.
        var shared = Regex.Match(report, @"Used \d+ registers.*?(\d+) bytes smem");
        return new PtxasResources(
            int.Parse(registers[0].Groups[1].Value),
            shared.Success ? int.Parse(shared.Groups[1].Value) : 0,
            int.Parse(frame.Groups[1].Value), int.Parse(frame.Groups[2].Value), int.Parse(frame.Groups[3].Value));
    }
}
