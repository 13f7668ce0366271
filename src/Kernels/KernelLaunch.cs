namespace GpuAutoencoder.Kernels;

/// <summary>
/// One kernel launch as <see cref="DeviceKernels"/> enqueued it: what it runs, on what, in what
/// grid, and the least work it must do (floating-point operations, and the bytes it must read or
/// write at least once). A floor table is computed from these, so it describes the launches the
/// code makes, not a list typed by hand.
/// </summary>
/// <param name="Kernel">The kernel, as a reader of the table would name it.</param>
/// <param name="Shape">The problem: a product's rows×cols×depth, a reduction's rows×cols, an element count.</param>
/// <param name="Threads">Threads in the grid.</param>
/// <param name="GroupSize">Threads per group; 0 for an implicitly grouped kernel, whose group size ILGPU picks.</param>
/// <param name="Flop">Floating-point operations (a multiply-add is two).</param>
/// <param name="Bytes">Bytes every input must be read with and every output written with, each once.</param>
public sealed record KernelLaunch(string Kernel, string Shape, long Threads, int GroupSize, double Flop, double Bytes)
{
    /// <summary>Thread groups in the grid, where the launcher fixes the group size.</summary>
    public long? Groups => GroupSize > 0 ? Threads / GroupSize : null;
}

/// <summary>
/// The launch shape of a device: what the launchers size grids and split counts by. Normally the
/// accelerator's own; another one (<see cref="H200"/>) only describes launches without running
/// them, through a <see cref="LaunchRecorder"/> that does not execute.
/// </summary>
public sealed record DeviceShape(string Name, int Multiprocessors, int MaxGroupSize, int MaxThreads)
{
    public static DeviceShape Of(Accelerator accelerator) => new(accelerator.Name, Math.Max(1, accelerator.NumMultiprocessors),
        accelerator.MaxNumThreadsPerGroup, accelerator.MaxNumThreads);

    /// <summary>NVIDIA H200 SXM: 132 multiprocessors of up to 2,048 resident threads, groups of up to 1,024.</summary>
    public static readonly DeviceShape H200 = new("NVIDIA H200", 132, 1024, 132 * 2048);
}

/// <summary>
/// Collects the launches <see cref="DeviceKernels"/> makes while it is attached. With
/// <see cref="Execute"/> false nothing reaches the device: the launchers compute their grids and
/// record them only, which is how launches for a device this machine does not have are listed.
/// </summary>
public sealed class LaunchRecorder
{
    readonly List<KernelLaunch> launches = [];

    /// <summary>Whether recorded launches are also enqueued.</summary>
    public bool Execute { get; init; } = true;

    public IReadOnlyList<KernelLaunch> Launches => launches;

    public void Add(KernelLaunch launch) => launches.Add(launch);

    public void Clear() => launches.Clear();
}
