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
    /// <summary>x[r, :] = images[perm[first + r], :] / 255 for r &lt; rows: batch assembly and byte→float in one pass.</summary>
    public static void GatherBatch(Index1D index, ArrayView<byte> images, ArrayView<int> permutation, int first,
        int rows, int pixels, ArrayView<float> x, int stride)
    {
        for (int t = index; t < rows * pixels; t += stride)
        {
            int r = t / pixels, c = t - r * pixels;
            x[t] = images[permutation[first + r] * pixels + c] / 255f;
        }
    }

    /// <summary>
    /// For each row of the batch: the squared error against the target, summed into rowLoss, and
    /// the gradient of mean((y − t)²) taken back through the Sigmoid, written into dz.
    /// </summary>
    public static void MseSigmoidBackward(Index1D index, ArrayView<float> y, ArrayView<float> target,
        ArrayView<float> dz, ArrayView<float> rowLoss, int rows, int cols, float gradScale, int stride)
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
    }

    /// <summary>The largest group <see cref="MseSigmoidBackwardRowPerGroup"/> may be launched with.</summary>
    public const int MaxRowGroup = 256;

    /// <summary>
    /// The GPU schedule of <see cref="MseSigmoidBackward"/>: one group per row, its threads striding
    /// across the row (coalesced), then a tree reduction in shared memory. The tree has a fixed
    /// shape for a given group size, so the row sum is deterministic. The group size must be a
    /// power of two no larger than <see cref="MaxRowGroup"/>.
    /// </summary>
    public static void MseSigmoidBackwardRowPerGroup(ArrayView<float> y, ArrayView<float> target,
        ArrayView<float> dz, ArrayView<float> rowLoss, int cols, float gradScale)
    {
        var partial = SharedMemory.Allocate<float>(MaxRowGroup);
        int row = Grid.IdxX, tid = Group.IdxX, threads = Group.DimX;
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
    }

    /// <summary>rowSums[r] = Σ_c (a[r, c] − b[r, c])², summed in column order: the forward half of <see cref="MseSigmoidBackward"/>.</summary>
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
    /// dst[chunk, col] = scale · Σ src[row, col] over the rows of that chunk. With one chunk this is
    /// a column sum; with many, it is the first stage of a two-stage one, so a GPU gets enough threads
    /// without resorting to atomics.
    /// </summary>
    public static void ColumnSums(Index1D index, ArrayView<float> src, int rows, int cols, int rowsPerChunk,
        int chunks, ArrayView<float> dst, float scale, int stride)
    {
        for (int t = index; t < chunks * cols; t += stride)
        {
            int chunk = t / cols, col = t - chunk * cols;
            int end = Math.Min(rows, (chunk + 1) * rowsPerChunk);
            float sum = 0f;
            for (int r = chunk * rowsPerChunk; r < end; r++) sum += src[r * cols + col];
            dst[t] = scale * sum;
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
