namespace GpuAutoencoder.Kernels;

/// <summary>One column sum of a batch: dst[col] = scale · Σ_row src[row, col] for <paramref name="Cols"/> columns.</summary>
public readonly record struct ColumnSumJob(ArrayView<float> Source, int Cols, ArrayView<float> Destination);

/// <summary>
/// Up to four column sums over the same number of rows, in one launch: dstᵢ[c] = scale · Σ_r srcᵢ[r, c]
/// for each job i with <c>Colsᵢ</c> columns (a job with 0 columns is absent). The bias gradients of
/// several layers are such a batch, as is a reduction of one column (the loss).
/// </summary>
public readonly struct ColumnSumJobs(int count, int cols0, int cols1, int cols2, int cols3, float scale)
{
    public readonly int Count = count, Cols0 = cols0, Cols1 = cols1, Cols2 = cols2, Cols3 = cols3;
    public readonly float Scale = scale;

    public int Cols(int job) => job == 0 ? Cols0 : job == 1 ? Cols1 : job == 2 ? Cols2 : Cols3;
    public int TotalCols => Cols0 + Cols1 + Cols2 + Cols3;
}

/// <summary>
/// The kernels behind <see cref="DeviceKernels.ColumnSums(int, float, ReadOnlySpan{ColumnSumJob})"/>. Both add
/// in a fixed order, so results are deterministic, and neither uses a float atomic.
/// </summary>
public static class ColumnSumKernels
{
    /// <summary>Columns a group of <see cref="Grouped"/> covers, and the row lanes that share each column.</summary>
    public const int Columns = 32, Lanes = 8, GroupSize = Columns * Lanes;

    /// <summary>Column blocks of <see cref="Columns"/> in one job.</summary>
    public static int Blocks(int cols) => (cols + Columns - 1) / Columns;

    static ArrayView<float> Pick(int job, ArrayView<float> v0, ArrayView<float> v1, ArrayView<float> v2, ArrayView<float> v3) =>
        job == 0 ? v0 : job == 1 ? v1 : job == 2 ? v2 : v3;

    /// <summary>
    /// The CPU schedule: item t is one column of one job, summed over every row in row order (one
    /// stage: on a CPU the rows of a column are a plain loop).
    /// </summary>
    public static void Strided(Index1D index, ArrayView<float> src0, ArrayView<float> src1, ArrayView<float> src2, ArrayView<float> src3,
        ArrayView<float> dst0, ArrayView<float> dst1, ArrayView<float> dst2, ArrayView<float> dst3, ColumnSumJobs jobs, int rows, int stride)
    {
        for (int t = index; t < jobs.TotalCols; t += stride)
        {
            int job = 0, col = t;
            while (col >= jobs.Cols(job))
            {
                col -= jobs.Cols(job);
                job++;
            }
            int cols = jobs.Cols(job);
            var src = Pick(job, src0, src1, src2, src3);
            float sum = 0f;
            for (int r = 0; r < rows; r++) sum += src[r * cols + col];
            Pick(job, dst0, dst1, dst2, dst3)[col] = jobs.Scale * sum;
        }
    }

    /// <summary>
    /// The GPU schedule, one launch on grid (column blocks of every job, row chunks) with
    /// <see cref="GroupSize"/> threads. In a group, <see cref="Lanes"/> lanes per column each add every
    /// <see cref="Lanes"/>-th row of the chunk (coalesced across the 32 columns); lane 0 adds the lanes
    /// in order into the chunk's partial sum. The last group of a column block to finish (an integer
    /// counter per block, reset by that group) adds the chunks' partials in chunk order. Which group
    /// is last varies from run to run; the order of every addition does not.
    /// </summary>
    /// <param name="partials">[chunks, column blocks · <see cref="Columns"/>] scratch.</param>
    /// <param name="counters">One zeroed counter per column block; left zeroed.</param>
    public static void Grouped(ArrayView<float> src0, ArrayView<float> src1, ArrayView<float> src2, ArrayView<float> src3,
        ArrayView<float> dst0, ArrayView<float> dst1, ArrayView<float> dst2, ArrayView<float> dst3,
        ArrayView<float> partials, ArrayView<int> counters, ColumnSumJobs jobs, int rows, int rowsPerChunk)
    {
        var lanes = SharedMemory.Allocate<float>(GroupSize);
        var last = SharedMemory.Allocate<int>(1);
        int tid = Group.IdxX, c = tid % Columns, lane = tid / Columns;
        int block = Grid.IdxX, chunk = Grid.IdxY, chunks = Grid.DimY, slots = Grid.DimX * Columns;
        int job = 0, firstBlock = 0;
        while (block >= firstBlock + Blocks(jobs.Cols(job)))
        {
            firstBlock += Blocks(jobs.Cols(job));
            job++;
        }
        int cols = jobs.Cols(job), col = (block - firstBlock) * Columns + c;
        var src = Pick(job, src0, src1, src2, src3);
        int r1 = Math.Min(rows, (chunk + 1) * rowsPerChunk);
        float sum = 0f;
        if (col < cols)
        {
            int r = chunk * rowsPerChunk + lane;
            // Four rows' loads before their four additions, still in row order.
            for (; r + 3 * Lanes < r1; r += 4 * Lanes)
            {
                float v0 = src[r * cols + col], v1 = src[(r + Lanes) * cols + col];
                float v2 = src[(r + 2 * Lanes) * cols + col], v3 = src[(r + 3 * Lanes) * cols + col];
                sum += v0;
                sum += v1;
                sum += v2;
                sum += v3;
            }
            for (; r < r1; r += Lanes) sum += src[r * cols + col];
        }
        lanes[tid] = sum;
        Group.Barrier();
        if (lane == 0)
        {
            float s = 0f;
            for (int l = 0; l < Lanes; l++) s += lanes[l * Columns + c];
            partials[chunk * slots + block * Columns + c] = s;
        }
        if (!LastGroup.Arrive(counters.SubView(block, 1), chunks, last)) return;
        if (lane == 0 && col < cols)
        {
            float s = 0f;
            for (int ch = 0; ch < chunks; ch++) s += partials[ch * slots + block * Columns + c];
            Pick(job, dst0, dst1, dst2, dst3)[col] = jobs.Scale * s;
        }
    }
}
