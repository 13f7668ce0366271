using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.KernelReport;

/// <summary>What one kernel costs on the GPU, read from ptxas and the SASS it produced.</summary>
public sealed record KernelFigures(
    string Name,
    string Grouping,
    int Registers,
    int SharedBytes,
    int StackBytes,
    int SpillStoreBytes,
    int SpillLoadBytes,
    int SpillBytes,
    int LocalOps,
    int Instructions,
    int BlockThreads,
    int OccupancyWarpsPerSm,
    InnerLoopFigures? InnerLoop)
{
    /// <summary>Whether anything lives in local memory: a stack frame, spills or LDL/STL.</summary>
    public bool UsesLocalMemory => StackBytes > 0 || SpillBytes > 0 || LocalOps > 0;
}

/// <summary>One iteration of a matrix product's inner loop, by instruction kind.</summary>
public sealed record InnerLoopFigures(
    int Instructions,
    int MathPerIter,
    int FfmaPerIter,
    int HmmaPerIter,
    int LdsPerIter,
    IReadOnlyDictionary<string, int> LdsWidths,
    int LdgPerIter,
    IReadOnlyDictionary<string, int> LdgWidths,
    int StsPerIter,
    int BarriersPerIter)
{
    public static InnerLoopFigures Of(SassLoop loop) => new(
        loop.Instructions.Count, loop.Math, loop.Ffma, loop.Hmma,
        loop.SharedLoads.Values.Sum(), loop.SharedLoads,
        loop.GlobalLoads.Values.Sum(), loop.GlobalLoads, loop.Sts, loop.Barriers);
}

/// <summary>One kernel compiled, assembled and disassembled for one architecture.</summary>
public sealed record KernelBuild(CatalogedKernel Kernel, string Ptx, string PtxasReport, SassListing Sass, KernelFigures Figures);
