using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace GpuAutoencoder.Kernels;

/// <summary>Numbered versions of the matrix products, as in llm.c's dev/cuda.</summary>
public enum MatmulVersion
{
    /// <summary>One output per thread; any size, any alignment.</summary>
    Naive = 1,
    /// <summary>Barrier-free 4×4 register blocks from Float4 loads: the CPU accelerator's schedule.</summary>
    Blocked = 2,
    /// <summary>Shared-memory tiles with barriers plus register blocking: the GPU schedule.</summary>
    Tiled = 3,
}

/// <summary>
/// How the same math is laid onto an accelerator. ILGPU's CPU accelerator simulates GPU threads,
/// so what is fast there (few threads, long loops, no barriers) is the opposite of what is fast on
/// a GPU (a thread per item, shared-memory tiles). This record is the one place that choice is made.
/// </summary>
/// <param name="Name">Shown by --verbose and by selftest.</param>
/// <param name="Matmul">The matrix-product version used where operands allow it.</param>
/// <param name="OneThreadPerItem">Launch elementwise kernels with a thread per item (GPU) rather than about one per core (CPU).</param>
/// <param name="ColumnSumRowsPerChunk">Rows each thread sums in the first stage of a column sum; a single stage when it covers all rows.</param>
/// <param name="RowPerGroup">Reduce each row of the loss in one thread group through shared memory (GPU) rather than in one thread (CPU).</param>
/// <param name="GroupsPerMultiprocessor">Tiled products whose tiles would give fewer groups than this per multiprocessor are split along their depth.</param>
public sealed record Schedule(string Name, MatmulVersion Matmul, bool OneThreadPerItem, int ColumnSumRowsPerChunk, bool RowPerGroup,
    int GroupsPerMultiprocessor = 2)
{
    public static readonly Schedule Cpu = new("cpu-blocked", MatmulVersion.Blocked, false, int.MaxValue, false);
    // Eight groups per multiprocessor measured fastest on an H200 (0.62 ms a step against 0.68 with two).
    public static readonly Schedule Gpu = new("gpu-tiled", MatmulVersion.Tiled, true, 64, true, GroupsPerMultiprocessor: 8);

    public static Schedule For(Accelerator accelerator) =>
        accelerator.AcceleratorType == AcceleratorType.CPU ? Cpu : Gpu;
}

/// <summary>The accelerators gpuae can run on.</summary>
public enum AcceleratorKind
{
    Auto,
    Cuda,
    OpenCL,
    Cpu,
}

/// <summary>Thrown when the requested accelerator does not exist here; the message names those that do.</summary>
public sealed class AcceleratorUnavailableException(string message) : Exception(message);

/// <summary>Creates ILGPU contexts and accelerators.</summary>
public static class Accelerators
{
    /// <summary>
    /// A simulated device with about one thread per core: the fastest shape for the barrier-free
    /// kernels, since every simulated thread is a real OS thread. ILGPU wants warps of at least two
    /// threads, so the cores are split into two-thread multiprocessors.
    /// </summary>
    public static CPUDevice FastCpuDevice() => new(2, 1, Math.Max(1, Environment.ProcessorCount / 2));

    /// <summary>A simulated device whose groups hold <paramref name="threadsPerGroup"/> threads, for running GPU-schedule kernels in tests.</summary>
    public static CPUDevice WideCpuDevice(int threadsPerGroup) => new(threadsPerGroup, 1, 1);

    /// <param name="optimization">ILGPU's optimisation level for the kernels it compiles. O2 made a
    /// training step 1.6 times slower on an H200 (1.01 ms against 0.62), so O1 is the default.</param>
    public static Context CreateContext(CPUDevice? cpu = null, OptimizationLevel optimization = OptimizationLevel.O1) =>
        Context.Create(builder => builder.Cuda().OpenCL().CPU(cpu ?? FastCpuDevice()).EnableAlgorithms().Optimize(optimization));

    /// <summary>Auto picks CUDA, then OpenCL, then the CPU accelerator.</summary>
    public static Accelerator Create(Context context, AcceleratorKind kind)
    {
        Device? device = kind switch
        {
            AcceleratorKind.Cuda => First(context, AcceleratorType.Cuda),
            AcceleratorKind.OpenCL => First(context, AcceleratorType.OpenCL),
            AcceleratorKind.Cpu => First(context, AcceleratorType.CPU),
            _ => First(context, AcceleratorType.Cuda) ?? First(context, AcceleratorType.OpenCL) ?? First(context, AcceleratorType.CPU),
        };
        if (device == null)
            throw new AcceleratorUnavailableException(
                $"no {kind.ToString().ToLowerInvariant()} accelerator found; available: {Describe(context)}");
        return device.CreateAccelerator(context);
    }

    /// <summary>"cuda (NVIDIA H200), cpu (CPU)": what this machine offers, for error messages and --verbose.</summary>
    public static string Describe(Context context) =>
        string.Join(", ", context.Devices.Select(d => $"{Name(d.AcceleratorType)} ({d.Name})"));

    public static string Name(AcceleratorType type) => type switch
    {
        AcceleratorType.Cuda => "cuda",
        AcceleratorType.OpenCL => "opencl",
        AcceleratorType.CPU => "cpu",
        _ => type.ToString().ToLowerInvariant(),
    };

    static Device? First(Context context, AcceleratorType type) =>
        context.Devices.FirstOrDefault(d => d.AcceleratorType == type);
}
