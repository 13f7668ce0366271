namespace GpuAutoencoder.Kernels;

/// <summary>
/// Version 5, the GPU schedule's products whose one side is the bottleneck (z = 8), where a 64×64
/// tile would leave 7/8 of its work unused: an output only a few columns wide (the encoder's last
/// forward product, the decoder's first input gradient) and a weight gradient only a few rows or
/// columns wide (both products at the bottleneck), that one with its bias gradient in the same
/// launch. (A product only a few deep is version 1's shape: one output per thread.) Float64
/// references: <see cref="MatmulReference"/> and, for the bias, <see cref="ElementwiseReference.ColumnSums"/>.
/// Every sum runs in a fixed order, so results are deterministic; no float atomics.
/// </summary>
public static class MatmulSkinny
{
    public const int GroupSize = 256;
    /// <summary>The widest output <see cref="NarrowOutput"/> computes.</summary>
    public const int MaxCols = 8;
    /// <summary>Lanes that share one row of <see cref="NarrowOutput"/>, and the rows a group covers.</summary>
    public const int Lanes = 32, RowsPerGroup = GroupSize / Lanes;

    /// <summary>
    /// C[Rows, Cols ≤ 8] = epilogue(A·B) over any depth, for products whose A is contiguous along the
    /// depth (AsP = 1). A group covers 8 rows, 32 lanes a row: lane l adds depth l, l + 32, … for all
    /// (up to) 8 columns at once (coalesced reads of A), then one thread per output adds the 32 lanes
    /// in lane order and applies the epilogue.
    /// </summary>
    public static void NarrowOutput(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> aux,
        StridedProduct s, Epilogue epilogue)
    {
        var sums = SharedMemory.Allocate<float>(GroupSize * MaxCols);
        int tid = Group.IdxX, lane = tid % Lanes, r = tid / Lanes;
        int row0 = Grid.IdxX * RowsPerGroup;
        // Rows and columns past the edge are clamped to the last one: computed, never stored.
        int i = Math.Min(row0 + r, s.Rows - 1), last = s.Cols - 1;
        int b1 = Math.Min(1, last) * s.BsJ, b2 = Math.Min(2, last) * s.BsJ, b3 = Math.Min(3, last) * s.BsJ;
        int b4 = Math.Min(4, last) * s.BsJ, b5 = Math.Min(5, last) * s.BsJ, b6 = Math.Min(6, last) * s.BsJ, b7 = Math.Min(7, last) * s.BsJ;
        float c0 = 0f, c1 = 0f, c2 = 0f, c3 = 0f, c4 = 0f, c5 = 0f, c6 = 0f, c7 = 0f;
        for (int p = lane; p < s.Depth; p += Lanes)
        {
            float av = a[i * s.AsI + p * s.AsP];
            int bp = p * s.BsP;
            c0 += av * b[bp];
            c1 += av * b[bp + b1];
            c2 += av * b[bp + b2];
            c3 += av * b[bp + b3];
            c4 += av * b[bp + b4];
            c5 += av * b[bp + b5];
            c6 += av * b[bp + b6];
            c7 += av * b[bp + b7];
        }
        sums[tid] = c0;
        sums[GroupSize + tid] = c1;
        sums[2 * GroupSize + tid] = c2;
        sums[3 * GroupSize + tid] = c3;
        sums[4 * GroupSize + tid] = c4;
        sums[5 * GroupSize + tid] = c5;
        sums[6 * GroupSize + tid] = c6;
        sums[7 * GroupSize + tid] = c7;
        Group.Barrier();
        if (tid < RowsPerGroup * MaxCols)
        {
            int rr = tid / MaxCols, j = tid % MaxCols, row = row0 + rr;
            if (row < s.Rows && j < s.Cols)
            {
                float sum = 0f;
                for (int l = 0; l < Lanes; l++) sum += sums[j * GroupSize + rr * Lanes + l];
                c[row * s.Cols + j] = epilogue.Apply(sum, aux, row, j, s.Cols);
            }
        }
    }

    /// <summary>
    /// dW[Rows, Cols] = Σ_p A[p, i]·B[p, j] over the batch (the weight gradient's
    /// <see cref="StridedProduct"/>), and with <paramref name="withBias"/> also db[i] = Σ_p A[p, i], as
    /// if B had a last column of ones: outputs are numbered i·(Cols + 1) + j then. One thread per
    /// output, grid (output blocks, batch chunks): each group adds its chunk in batch order into its
    /// own slab of <paramref name="partials"/>; the last group of an output block to finish (an
    /// integer counter per block, reset by that group) adds the slabs in chunk order.
    /// </summary>
    /// <param name="partials">[chunks, Grid.DimX · GroupSize] scratch.</param>
    /// <param name="counters">One zeroed counter per output block; left zeroed.</param>
    public static void WeightGradient(ArrayView<float> a, ArrayView<float> b, ArrayView<float> dw, ArrayView<float> db,
        ArrayView<float> partials, ArrayView<int> counters, StridedProduct s, int withBias, int depthPerChunk)
    {
        var last = SharedMemory.Allocate<int>(1);
        int tid = Group.IdxX, block = Grid.IdxX, chunk = Grid.IdxY, chunks = Grid.DimY, slots = Grid.DimX * GroupSize;
        int width = s.Cols + withBias, o = block * GroupSize + tid;
        int i = o / width, j = o - i * width;
        bool live = i < s.Rows, bias = j == s.Cols;
        // Outputs past the end, and the bias column, read a valid element and do not use it.
        int ia = Math.Min(i, s.Rows - 1), jb = Math.Min(j, s.Cols - 1);
        int p1 = Math.Min(s.Depth, (chunk + 1) * depthPerChunk);
        float sum = 0f;
        int p = chunk * depthPerChunk;
        // Four steps' loads are issued before their four additions, which still run in batch order:
        // one memory latency per four steps instead of one per step.
        for (; p + 3 < p1; p += 4)
        {
            float a0 = a[ia * s.AsI + p * s.AsP], a1 = a[ia * s.AsI + (p + 1) * s.AsP];
            float a2 = a[ia * s.AsI + (p + 2) * s.AsP], a3 = a[ia * s.AsI + (p + 3) * s.AsP];
            float v0 = b[p * s.BsP + jb * s.BsJ], v1 = b[(p + 1) * s.BsP + jb * s.BsJ];
            float v2 = b[(p + 2) * s.BsP + jb * s.BsJ], v3 = b[(p + 3) * s.BsP + jb * s.BsJ];
            sum += bias ? a0 : a0 * v0;
            sum += bias ? a1 : a1 * v1;
            sum += bias ? a2 : a2 * v2;
            sum += bias ? a3 : a3 * v3;
        }
        for (; p < p1; p++)
        {
            float av = a[ia * s.AsI + p * s.AsP];
            sum += bias ? av : av * b[p * s.BsP + jb * s.BsJ];
        }
        partials[chunk * slots + o] = sum;
        if (!LastGroup.Arrive(counters.SubView(block, 1), chunks, last)) return;
        if (live)
        {
            float total = 0f;
            for (int ch = 0; ch < chunks; ch++) total += partials[ch * slots + o];
            if (bias) db[i] = total;
            else dw[i * s.Cols + j] = total;
        }
    }
}
