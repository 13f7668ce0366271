namespace GpuAutoencoder.Kernels;

/// <summary>
/// The loss and its gradient in one launch: the mean squared error between a Sigmoid output y and
/// its target, reduced to one number on the device, and its gradient taken back through the
/// Sigmoid into dz. Each row's squared error goes to a scratch row-loss buffer; whichever part of
/// the launch finishes last (an integer counter, reset by it) adds the rows in row order, so the
/// loss is deterministic without a float atomic and without a second launch: on the GPU schedule the
/// last group (<see cref="LastGroup"/>), on the CPU schedule the last thread. The float64 reference
/// is <see cref="ElementwiseReference.MseSigmoidBackward"/>.
/// </summary>
public static class LossKernels
{
    /// <summary>The largest group <see cref="RowPerGroup"/> may be launched with.</summary>
    public const int MaxGroup = 256;

    /// <summary>
    /// The CPU schedule: thread t handles rows t, t + stride, …; the last of the <paramref name="stride"/>
    /// threads to finish adds every row's error in row order.
    /// </summary>
    public static void Strided(Index1D index, ArrayView<float> y, ArrayView<float> target, ArrayView<float> dz,
        ArrayView<float> rowLoss, ArrayView<int> counter, ArrayView<float> loss, int rows, int cols, float gradScale, float lossScale, int stride)
    {
        for (int r = index; r < rows; r += stride)
        {
            float sum = 0f;
            for (int c = r * cols; c < (r + 1) * cols; c++)
            {
                float yc = y[c], diff = yc - target[c];
                sum += diff * diff;
                dz[c] = gradScale * diff * yc * (1f - yc);
            }
            rowLoss[r] = sum;
        }
        MemoryFence.DeviceLevel();
        // Every thread counts itself and fences before the last one goes on: ILGPU writes the fence for
        // OpenCL as a work-group barrier, which a fence inside a branch would leave unmet (see LastGroup).
        int arrived = Atomic.Add(ref counter[0], 1);
        MemoryFence.DeviceLevel();
        if (arrived != stride - 1) return;
        float total = 0f;
        for (int r = 0; r < rows; r++) total += rowLoss[r];
        loss[0] = lossScale * total;
        counter[0] = 0;
    }

    /// <summary>
    /// The GPU schedule: one group per row, its threads striding across the row (coalesced), then a
    /// tree in shared memory; the last group to finish adds the row errors, each of its threads every
    /// group-size-th row in order, then the same tree. The group size must be a power of two no larger
    /// than <see cref="MaxGroup"/>.
    /// </summary>
    public static void RowPerGroup(ArrayView<float> y, ArrayView<float> target, ArrayView<float> dz, ArrayView<float> rowLoss,
        ArrayView<int> counter, ArrayView<float> loss, int cols, float gradScale, float lossScale)
    {
        var partial = SharedMemory.Allocate<float>(MaxGroup);
        var last = SharedMemory.Allocate<int>(1);
        int row = Grid.IdxX, rows = Grid.DimX, tid = Group.IdxX, threads = Group.DimX;
        float sum = 0f;
        for (int c = row * cols + tid; c < (row + 1) * cols; c += threads)
        {
            float yc = y[c], diff = yc - target[c];
            sum += diff * diff;
            dz[c] = gradScale * diff * yc * (1f - yc);
        }
        partial[tid] = sum;
        Group.Barrier();
        for (int half = threads / 2; half > 0; half /= 2)
        {
            if (tid < half) partial[tid] += partial[tid + half];
            Group.Barrier();
        }
        if (tid == 0) rowLoss[row] = partial[0];
        if (!LastGroup.Arrive(counter, rows, last)) return;
        float total = 0f;
        for (int r = tid; r < rows; r += threads) total += rowLoss[r];
        partial[tid] = total;
        Group.Barrier();
        for (int half = threads / 2; half > 0; half /= 2)
        {
            if (tid < half) partial[tid] += partial[tid + half];
            Group.Barrier();
        }
        if (tid == 0) loss[0] = lossScale * partial[0];
    }
}
