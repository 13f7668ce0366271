namespace GpuAutoencoder.Kernels;

/// <summary>
/// How the same math is laid onto an accelerator. ILGPU's CPU accelerator simulates GPU threads,
/// so what is fast there (few threads, long loops, no barriers) is the opposite of what is fast on
/// a GPU (a thread per item, shared-memory tiles). This record is the one place that choice is made.
/// </summary>
/// <param name="Name">Shown by --verbose and by selftest.</param>
/// <param name="Matmul">The matrix-product version used where operands allow it.</param>
/// <param name="OneThreadPerItem">Launch elementwise kernels with a thread per item (GPU) rather than about one per core (CPU).</param>
/// <param name="GroupedReductions">Reduce (the loss, column sums) in thread groups through shared memory, spread over many
/// groups and finished by the last one (GPU), rather than in a loop per thread (CPU).</param>
/// <param name="GroupsPerMultiprocessor">Tiled products whose tiles would give fewer groups than this per multiprocessor are split along their depth.</param>
public sealed record Schedule(string Name, MatmulVersion Matmul, bool OneThreadPerItem, bool GroupedReductions,
    int GroupsPerMultiprocessor = 2)
{
    public static readonly Schedule Cpu = new("cpu-blocked", MatmulVersion.Blocked, false, false);
    // Eight groups per multiprocessor measured fastest on an H200 (0.62 ms a step against 0.68 with two).
    public static readonly Schedule Gpu = new("gpu-tiled", MatmulVersion.Tiled, true, true, GroupsPerMultiprocessor: 8);

    public static Schedule For(Accelerator accelerator) =>
        accelerator.AcceleratorType == AcceleratorType.CPU ? Cpu : Gpu;
}
