namespace GpuAutoencoder.Kernels;

/// <summary>
/// The small kernels around the matrix products. All but one are grid-stride loops: thread t handles
/// items t, t + stride, ... so one kernel serves both schedules. On a GPU it is launched with one
/// thread per item (each loop runs once); on the CPU accelerator with about one thread per core,
/// because a simulated thread per element spends its time in the simulator, not the loop body.
/// The exception, <see cref="MseSigmoidBackwardRowPerGroup"/>, is explicitly grouped, one group per
/// row, for schedules with <see cref="Schedule.RowPerGroup"/>. Every item is written by exactly one
/// thread in a fixed order, or summed by a tree of fixed shape, so results are deterministic.
/// </summary>
public static class ElementwiseKernels
{
    /// <summary>
    /// x[r, :] = images[perm[start + r], :] / 255 for r &lt; rows, where start = first + batch[0]·batchSize:
    /// batch assembly and byte→float in one pass. Training passes its batch cursor in
    /// <paramref name="batch"/>, so that a captured step gathers the next batch on every replay;
    /// other callers pass a zero and their row in <paramref name="first"/>.
    /// </summary>
    public static void GatherBatch(Index1D index, ArrayView<byte> images, ArrayView<int> permutation, ArrayView<int> batch,
        int first, int batchSize, int rows, int pixels, ArrayView<float> x, int stride)
    {
        int start = first + batch[0] * batchSize;
        for (int t = index; t < rows * pixels; t += stride)
        {
            int r = t / pixels, c = t - r * pixels;
            x[t] = images[permutation[start + r] * pixels + c] / 255f;
        }
    }

    /// <summary>
    /// One thread: losses[batch[0]] = loss[0], then the cursor moves to the next batch of the epoch,
    /// back to 0 after the last. This is what lets a training step take no argument that changes
    /// from one batch to the next (a CUDA graph replays its arguments as captured).
    /// </summary>
    public static void EndBatch(Index1D index, ArrayView<float> loss, ArrayView<float> losses, ArrayView<int> batch, int batches)
    {
        if (index != 0) return;
        int b = batch[0];
        losses[b] = loss[0];
        batch[0] = b + 1 == batches ? 0 : b + 1;
    }

    /// <summary>rowSums[r] = Σ_c (a[r, c] − b[r, c])², summed in column order: the loss of <see cref="LossKernels"/> without its gradient.</summary>
    public static void RowSquaredErrors(Index1D index, ArrayView<float> a, ArrayView<float> b, ArrayView<float> rowSums,
        int rows, int cols, int stride)
    {
        for (int r = index; r < rows; r += stride)
        {
            float sum = 0f;
            for (int c = r * cols; c < (r + 1) * cols; c++)
            {
                float diff = a[c] - b[c];
                sum += diff * diff;
            }
            rowSums[r] = sum;
        }
    }

    /// <summary>
    /// c[i] = epilogue(Σ_s slabs[s, i]) over <paramref name="splits"/> slabs of [rows, cols], in slab
    /// order: the second half of a split-K matrix product, deterministic where atomics would not be.
    /// </summary>
    public static void SumSlabs(Index1D index, ArrayView<float> slabs, int splits, int rows, int cols,
        ArrayView<float> c, ArrayView<float> aux, Epilogue epilogue, int stride)
    {
        int n = rows * cols;
        for (int i = index; i < n; i += stride)
        {
            float sum = 0f;
            for (int sl = 0; sl < splits; sl++) sum += slabs[sl * n + i];
            int row = i / cols;
            c[i] = epilogue.Apply(sum, aux, row, i - row * cols, cols);
        }
    }
}

/// <summary>Float64 references for <see cref="ElementwiseKernels"/>.</summary>
public static class ElementwiseReference
{
    public static double[] GatherBatch(byte[] images, int[] permutation, int first, int rows, int pixels)
    {
        var x = new double[rows * pixels];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < pixels; c++)
                x[r * pixels + c] = images[permutation[first + r] * pixels + c] / 255.0;
        return x;
    }

    /// <returns>The mean squared error and its gradient with respect to the Sigmoid's input.</returns>
    public static (double Loss, double[] Dz) MseSigmoidBackward(float[] y, float[] target, int rows, int cols)
    {
        double n = (double)rows * cols, loss = 0;
        var dz = new double[y.Length];
        for (int i = 0; i < rows * cols; i++)
        {
            double diff = (double)y[i] - target[i];
            loss += diff * diff;
            dz[i] = 2 * diff / n * y[i] * (1 - (double)y[i]);
        }
        return (loss / n, dz);
    }

    public static double[] RowSquaredErrors(float[] a, float[] b, int rows, int cols)
    {
        var sums = new double[rows];
        for (int i = 0; i < rows * cols; i++) sums[i / cols] += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        return sums;
    }

    public static double[] ColumnSums(float[] src, int rows, int cols)
    {
        var sums = new double[cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) sums[c] += src[r * cols + c];
        return sums;
    }
}
