namespace GpuAutoencoder.Kernels;

/// <summary>Copies between host and device so far: bytes and calls in each direction.</summary>
public readonly record struct TransferCount(long BytesToDevice, long BytesFromDevice, long Uploads, long Downloads)
{
    public long Bytes => BytesToDevice + BytesFromDevice;
    public long Copies => Uploads + Downloads;

    public static TransferCount operator -(TransferCount a, TransferCount b) =>
        new(a.BytesToDevice - b.BytesToDevice, a.BytesFromDevice - b.BytesFromDevice, a.Uploads - b.Uploads, a.Downloads - b.Downloads);
}

/// <summary>
/// The one door between host and device memory. Every upload and download gpuae makes goes
/// through here and is counted as it happens, so "no copies in the training step" is something
/// the benchmark measures and a test asserts, not something a comment promises. A source scan in
/// the tests keeps every other file from calling ILGPU's copy methods directly.
/// </summary>
public sealed class HostTransfers(Accelerator accelerator)
{
    long bytesToDevice, bytesFromDevice, uploads, downloads;

    /// <summary>What has been copied so far; subtract two readings to count a stretch of work.</summary>
    public TransferCount Count => new(Interlocked.Read(ref bytesToDevice), Interlocked.Read(ref bytesFromDevice),
        Interlocked.Read(ref uploads), Interlocked.Read(ref downloads));

    /// <summary>A new device buffer holding a copy of <paramref name="source"/>.</summary>
    public MemoryBuffer1D<T, Stride1D.Dense> Allocate<T>(ReadOnlySpan<T> source) where T : unmanaged
    {
        var buffer = accelerator.Allocate1D<T>(source.Length);
        try
        {
            Upload(buffer.View, source);
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
        return buffer;
    }

    public MemoryBuffer1D<T, Stride1D.Dense> Allocate<T>(T[] source) where T : unmanaged => Allocate(new ReadOnlySpan<T>(source));

    /// <summary>destination = source, host to device, on <paramref name="stream"/> (the default stream when null); the lengths must match.</summary>
    public void Upload<T>(ArrayView<T> destination, ReadOnlySpan<T> source, AcceleratorStream? stream = null) where T : unmanaged
    {
        CheckLengths(destination.Length, source.Length);
        if (source.IsEmpty) return;
        if (stream == null) destination.CopyFromCPU(source);
        else destination.CopyFromCPU(stream, source);
        Interlocked.Add(ref bytesToDevice, destination.LengthInBytes);
        Interlocked.Increment(ref uploads);
    }

    /// <summary>destination = source, device to host; the lengths must match. Synchronises.</summary>
    public void Download<T>(ArrayView<T> source, Span<T> destination) where T : unmanaged
    {
        CheckLengths(source.Length, destination.Length);
        if (destination.IsEmpty) return;
        source.CopyToCPU(destination);
        Interlocked.Add(ref bytesFromDevice, source.LengthInBytes);
        Interlocked.Increment(ref downloads);
    }

    /// <summary>A new host array holding a copy of <paramref name="source"/>. Synchronises.</summary>
    public T[] Download<T>(ArrayView<T> source) where T : unmanaged
    {
        var result = new T[source.Length];
        Download(source, result);
        return result;
    }

    public void Upload<T>(ArrayView1D<T, Stride1D.Dense> destination, ReadOnlySpan<T> source, AcceleratorStream? stream = null) where T : unmanaged =>
        Upload(destination.AsContiguous(), source, stream);

    public void Download<T>(ArrayView1D<T, Stride1D.Dense> source, Span<T> destination) where T : unmanaged =>
        Download(source.AsContiguous(), destination);

    public T[] Download<T>(ArrayView1D<T, Stride1D.Dense> source) where T : unmanaged => Download(source.AsContiguous());

    /// <summary>A new host array holding a copy of the whole buffer. Synchronises.</summary>
    public T[] Download<T>(MemoryBuffer1D<T, Stride1D.Dense> source) where T : unmanaged => Download(source.View.AsContiguous());

    static void CheckLengths(long device, long host)
    {
        if (device != host)
            throw new ArgumentException($"a copy between {device} device elements and {host} host elements");
    }
}
