using GpuAutoencoder.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAutoencoder.Tests;

/// <summary>One ILGPU context and CPU accelerator for the whole test run: creating them and compiling kernels is the slow part.</summary>
public static class TestAccelerator
{
    static readonly Lazy<(Context Context, Accelerator Accelerator)> cpu = new(() =>
    {
        var context = Accelerators.CreateContext();
        return (context, Accelerators.Create(context, AcceleratorKind.Cpu));
    });
    static readonly Dictionary<Schedule, DeviceKernels> kernels = [];
    // Groups big enough for the GPU schedule's 16×16 tiles; each simulated thread is an OS thread,
    // so only small problems are run on it.
    static readonly Lazy<(Context Context, Accelerator Accelerator, DeviceKernels Kernels)> wide = new(() =>
    {
        var context = Accelerators.CreateContext(Accelerators.WideCpuDevice(MatmulTiled.GroupSize));
        var accelerator = Accelerators.Create(context, AcceleratorKind.Cpu);
        return (context, accelerator, new DeviceKernels(accelerator, Schedule.Gpu));
    });

    // Warps of 32 lanes, as the tensor core's mma has, and groups of MatmulTf32.GroupSize: the TF32 kernel
    // runs here whole, with its mma emulated.
    static readonly Lazy<(Context Context, Accelerator Accelerator, DeviceKernels Kernels)> tf32 = new(() =>
    {
        var context = Accelerators.CreateContext(
            new ILGPU.Runtime.CPU.CPUDevice(Tf32Fragment.WarpSize, MatmulTf32.GroupSize / Tf32Fragment.WarpSize, 1));
        var accelerator = Accelerators.Create(context, AcceleratorKind.Cpu);
        return (context, accelerator, DeviceKernels.EmulatingTf32(accelerator));
    });

    public static Accelerator Cpu => cpu.Value.Accelerator;

    /// <summary>The GPU schedule at TF32, the mma emulated, on a CPU device with 32-lane warps.</summary>
    public static DeviceKernels EmulatedTf32 => tf32.Value.Kernels;

    /// <summary>The GPU schedule on a CPU device whose groups hold a whole tile's threads.</summary>
    public static DeviceKernels WideGpuSchedule => wide.Value.Kernels;

    /// <summary>The kernels with the given schedule's launch shapes, on the CPU accelerator.</summary>
    public static DeviceKernels Kernels(Schedule schedule)
    {
        lock (kernels)
        {
            if (!kernels.TryGetValue(schedule, out var k)) kernels[schedule] = k = new DeviceKernels(Cpu, schedule);
            return k;
        }
    }

    /// <summary>A device buffer filled with NaN, so any element a kernel fails to write fails the comparison.</summary>
    public static MemoryBuffer1D<float, Stride1D.Dense> Poisoned(int length, Accelerator? on = null) =>
        Validation.Poisoned(on ?? Cpu, length);
}
