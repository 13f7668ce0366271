using System.Runtime.InteropServices;
using ILGPU.Runtime.Cuda;

namespace GpuAutoencoder.Kernels;

/// <summary>
/// A CUDA graph captured from a stream and replayed with one launch, through the driver API:
/// ILGPU 1.5.3 has no graph API, but its <see cref="CudaStream.StreamPtr"/> is public. The versioned
/// entry points are bound on purpose: the plain names keep older signatures (cuStreamBeginCapture
/// without a mode). Capture fails on the legacy default stream, where ILGPU launches by default, so
/// the work must be enqueued on a stream from <see cref="Accelerator.CreateStream"/>.
/// </summary>
public sealed class CudaGraph : IDisposable
{
    const string Driver = "libcuda.so.1";
    // CU_STREAM_CAPTURE_MODE_RELAXED: other threads may keep calling the driver (ILGPU's own
    // bookkeeping), and nothing in the captured work allocates or synchronises.
    const int CaptureModeRelaxed = 2;

    [DllImport(Driver)] static extern int cuStreamBeginCapture_v2(IntPtr stream, int mode);
    [DllImport(Driver)] static extern int cuStreamEndCapture(IntPtr stream, out IntPtr graph);
    [DllImport(Driver)] static extern int cuGraphGetNodes(IntPtr graph, IntPtr nodes, ref nuint count);
    [DllImport(Driver)] static extern int cuGraphInstantiateWithFlags(out IntPtr graphExec, IntPtr graph, ulong flags);
    [DllImport(Driver)] static extern int cuGraphLaunch(IntPtr graphExec, IntPtr stream);
    [DllImport(Driver)] static extern int cuGraphExecDestroy(IntPtr graphExec);
    [DllImport(Driver)] static extern int cuGraphDestroy(IntPtr graph);
    [DllImport(Driver)] static extern int cuGetErrorName(int error, out IntPtr name);

    readonly IntPtr graph, exec;

    CudaGraph(IntPtr graph, IntPtr exec) => (this.graph, this.exec) = (graph, exec);

    /// <summary>
    /// Captures what <paramref name="enqueue"/> launches on <paramref name="stream"/> (nothing runs
    /// yet) and instantiates it. Returns null with the driver's or this method's reason when that
    /// cannot be done: not a CUDA stream, the default stream, no driver library, a refusal, or a
    /// graph without exactly <paramref name="expectedNodes"/> nodes when that is given. The count
    /// matters: work enqueued on another stream is neither captured nor reported, and a graph that
    /// silently lacks it would replay the wrong step.
    /// </summary>
    public static CudaGraph? TryCapture(AcceleratorStream stream, Action enqueue, out string reason, int? expectedNodes = null)
    {
        if (stream is not CudaStream cuda)
        {
            reason = $"not a CUDA stream ({Accelerators.Name(stream.Accelerator.AcceleratorType)} accelerator)";
            return null;
        }
        if (cuda.StreamPtr == IntPtr.Zero)
        {
            reason = "the legacy default stream cannot be captured; use a stream from CreateStream()";
            return null;
        }
        try
        {
            int r = cuStreamBeginCapture_v2(cuda.StreamPtr, CaptureModeRelaxed);
            if (r != 0)
            {
                reason = $"cuStreamBeginCapture_v2: {ErrorName(r)}";
                return null;
            }
            IntPtr g;
            string? refused = null;
            try
            {
                enqueue();
            }
            catch (Exception e) when (e is AcceleratorException or InvalidOperationException)
            {
                // A launch the capture refused; nothing of it ran.
                refused = $"a launch failed during the capture ({e.Message.ReplaceLineEndings(" ")})";
            }
            finally
            {
                // Always end the capture, or the stream stays unusable.
                r = cuStreamEndCapture(cuda.StreamPtr, out g);
            }
            if (refused != null || r != 0 || g == IntPtr.Zero)
            {
                reason = refused ?? $"cuStreamEndCapture: {ErrorName(r)}";
                if (g != IntPtr.Zero) cuGraphDestroy(g);
                return null;
            }
            nuint nodes = 0;
            r = cuGraphGetNodes(g, IntPtr.Zero, ref nodes);
            if (r != 0 || (expectedNodes is { } expected && nodes != (nuint)expected))
            {
                cuGraphDestroy(g);
                reason = r != 0 ? $"cuGraphGetNodes: {ErrorName(r)}" : $"the capture holds {nodes} nodes, the work enqueues {expectedNodes} launches";
                return null;
            }
            r = cuGraphInstantiateWithFlags(out var exec, g, 0);
            if (r != 0)
            {
                cuGraphDestroy(g);
                reason = $"cuGraphInstantiateWithFlags: {ErrorName(r)}";
                return null;
            }
            reason = "";
            return new CudaGraph(g, exec);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            reason = $"the CUDA driver's graph API is not available ({e.GetType().Name}: {e.Message})";
            return null;
        }
    }

    /// <summary>Enqueues one replay of the whole graph on <paramref name="stream"/>.</summary>
    public void Launch(CudaStream stream)
    {
        int r = cuGraphLaunch(exec, stream.StreamPtr);
        if (r != 0) throw new InvalidOperationException($"cuGraphLaunch: {ErrorName(r)}");
    }

    static string ErrorName(int error)
    {
        try
        {
            return cuGetErrorName(error, out var name) == 0 && name != IntPtr.Zero
                ? $"{Marshal.PtrToStringAnsi(name)} ({error})"
                : $"CUresult {error}";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return $"CUresult {error}";
        }
    }

    public void Dispose()
    {
        cuGraphExecDestroy(exec);
        cuGraphDestroy(graph);
    }
}

/// <summary>
/// A fixed sequence of launches run many times: captured once as a <see cref="CudaGraph"/> where the
/// accelerator is CUDA and the stream is one of its own, launched plainly everywhere else (OpenCL,
/// the CPU accelerator, the default stream, or a driver that refuses). <see cref="Path"/> says which.
/// <para>
/// The work must read everything that changes between runs from device memory (a replay repeats
/// the captured arguments), must not allocate or synchronise, and must have run once before the
/// capture, so that lazily allocated scratch buffers already exist.
/// </para>
/// </summary>
public sealed class ReplayableWork : IDisposable
{
    readonly AcceleratorStream stream;
    readonly Action enqueue;
    readonly CudaGraph? graph;

    /// <summary>What <see cref="Path"/> says of work that replays a captured graph.</summary>
    public const string GraphPath = "cuda graph";

    /// <summary>"cuda graph", or "plain launches (why)".</summary>
    public string Path { get; }
    public bool IsGraph => graph != null;

    /// <param name="enqueue">Launches the work on <paramref name="stream"/>; it is called once here
    /// to capture it (on CUDA, where nothing runs during a capture) and again by every plain <see cref="Run"/>.</param>
    /// <param name="launches">How many launches <paramref name="enqueue"/> makes, when known: a graph with another node count is refused.</param>
    public ReplayableWork(AcceleratorStream stream, Action enqueue, int? launches = null)
    {
        this.stream = stream;
        this.enqueue = enqueue;
        if (stream.Accelerator.AcceleratorType != AcceleratorType.Cuda)
        {
            Path = $"plain launches ({Accelerators.Name(stream.Accelerator.AcceleratorType)} accelerator has no graphs)";
            return;
        }
        stream.Synchronize();
        graph = CudaGraph.TryCapture(stream, enqueue, out string reason, launches);
        Path = graph != null ? GraphPath : $"plain launches ({reason})";
    }

    /// <summary>Enqueues the work once: one graph launch, or the launches themselves.</summary>
    public void Run()
    {
        if (graph != null) graph.Launch((CudaStream)stream);
        else enqueue();
    }

    public void Dispose() => graph?.Dispose();
}
