using System.Reflection;

namespace GpuAutoencoder.Kernels;

/// <summary>How a kernel's launcher groups its threads.</summary>
public enum KernelGrouping
{
    /// <summary>An Index1D/Index2D first parameter; ILGPU picks the group size (on CUDA, by the driver's occupancy API).</summary>
    Implicit,
    /// <summary>The launcher passes a grid and a group shape (shared memory and barriers).</summary>
    Explicit,
}

/// <summary>
/// One kernel the product loads on CUDA. <see cref="GroupSize"/> is the number of threads per group
/// its launcher asks for, or null where ILGPU chooses it (<see cref="KernelGrouping.Implicit"/>);
/// <see cref="Specialization"/> is the one it is loaded with, where it is loaded with one;
/// <see cref="TypeArgument"/> closes a generic kernel as CUDA loads it.
/// </summary>
public sealed record CatalogedKernel(Type Type, string MethodName, KernelGrouping Grouping, int? GroupSize, bool IsMatrixProduct,
    KernelSpecialization? Specialization = null, Type? TypeArgument = null)
{
    /// <summary>Type.Method, unique across the catalogue; names the kernel in reports and file names.</summary>
    public string Name => $"{Type.Name}.{MethodName}";

    public MethodInfo Method
    {
        get
        {
            var method = Type.GetMethod(MethodName, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
                ?? throw new InvalidOperationException($"{Name} is not a static method");
            return TypeArgument is { } argument ? method.MakeGenericMethod(argument) : method;
        }
    }
}

/// <summary>
/// Every kernel <see cref="DeviceKernels"/> and <see cref="AdamStepTable"/> load, with the grouping
/// and group size their launchers use, so that tools can compile exactly what a GPU runs without
/// one. A test scans the sources for kernel loads and fails when one is missing here.
/// </summary>
public static class KernelCatalog
{
    public static IReadOnlyList<CatalogedKernel> All { get; } =
    [
        new(typeof(MatmulNaive), nameof(MatmulNaive.Kernel), KernelGrouping.Implicit, null, true),
        new(typeof(MatmulBlocked), nameof(MatmulBlocked.Forward), KernelGrouping.Implicit, null, true),
        new(typeof(MatmulBlocked), nameof(MatmulBlocked.BackwardInput), KernelGrouping.Implicit, null, true),
        new(typeof(MatmulBlocked), nameof(MatmulBlocked.BackwardWeight), KernelGrouping.Implicit, null, true),
        new(typeof(MatmulTiled), nameof(MatmulTiled.Kernel), KernelGrouping.Explicit, MatmulTiled.GroupSize, true),
        // Loaded only at Precision.Tf32; on CUDA with the tensor cores' mma (the emulated one is the CPU's).
        new(typeof(MatmulTf32), nameof(MatmulTf32.Kernel), KernelGrouping.Explicit, MatmulTf32.GroupSize, true, TypeArgument: typeof(TensorCoreMma)),
        new(typeof(MatmulSkinny), nameof(MatmulSkinny.NarrowOutput), KernelGrouping.Explicit, MatmulSkinny.GroupSize, true),
        new(typeof(MatmulSkinny), nameof(MatmulSkinny.WeightGradient), KernelGrouping.Explicit, MatmulSkinny.GroupSize, true),
        new(typeof(ElementwiseKernels), nameof(ElementwiseKernels.GatherBatch), KernelGrouping.Implicit, null, false),
        new(typeof(ElementwiseKernels), nameof(ElementwiseKernels.EndBatch), KernelGrouping.Implicit, null, false),
        new(typeof(LossKernels), nameof(LossKernels.Strided), KernelGrouping.Implicit, null, false),
        // DeviceKernels launches it with the largest power of two up to MaxGroup that the GPU allows
        // in a group; every CUDA GPU allows 1024, so MaxGroup itself.
        new(typeof(LossKernels), nameof(LossKernels.RowPerGroup), KernelGrouping.Explicit, LossKernels.MaxGroup, false),
        new(typeof(ColumnSumKernels), nameof(ColumnSumKernels.Strided), KernelGrouping.Implicit, null, false),
        new(typeof(ColumnSumKernels), nameof(ColumnSumKernels.Grouped), KernelGrouping.Explicit, ColumnSumKernels.GroupSize, false),
        new(typeof(ElementwiseKernels), nameof(ElementwiseKernels.SumSlabs), KernelGrouping.Implicit, null, false),
        new(typeof(ElementwiseKernels), nameof(ElementwiseKernels.RowSquaredErrors), KernelGrouping.Implicit, null, false),
        new(typeof(AdamKernels), nameof(AdamKernels.Step), KernelGrouping.Implicit, null, false),
        new(typeof(AdamKernels), nameof(AdamKernels.Advance), KernelGrouping.Implicit, null, false),
    ];
}
