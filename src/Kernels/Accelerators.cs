using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace GpuAutoencoder.Kernels;

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
    /// training step much slower on the GPU (docs/PERFORMANCE.md has the figures), so O1 is the default.</param>
    public static Context CreateContext(CPUDevice? cpu = null, OptimizationLevel optimization = OptimizationLevel.O1) =>
        Context.Create(builder => builder.Cuda().OpenCL().CPU(cpu ?? FastCpuDevice()).EnableAlgorithms().Optimize(optimization));

    /// <summary>Auto picks CUDA, then OpenCL, then the CPU accelerator.</summary>
    public static Accelerator Create(Context context, AcceleratorKind kind) => Find(context, kind).CreateAccelerator(context);

    /// <summary>The device <see cref="Create"/> would start, without starting it.</summary>
    public static Device Find(Context context, AcceleratorKind kind)
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
        return device;
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
