namespace GpuAutoencoder.Kernels;

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
