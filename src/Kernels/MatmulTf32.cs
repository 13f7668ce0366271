using System.Runtime.CompilerServices;

namespace GpuAutoencoder.Kernels;

/// <summary>
/// The TF32 tensor-core product, for <see cref="Precision.Tf32"/>. A group of four warps computes a 64×64
/// tile of C; each warp owns a 32×32 quarter of it as 2×4 m16n8 mma tiles, whose fp32 accumulators stay
/// in registers for the whole depth. The depth is walked in 32-deep slabs through two shared-memory
/// buffers: while the warps multiply one slab (four 8-deep mma steps, 32 mma per warp), the next is
/// already on its way from global memory into registers, and is rounded to TF32 (round to nearest,
/// ties away, as cvt.rna does) and written to the other buffer after it; one barrier per slab.
/// Accumulation is fp32 in a fixed order, so runs stay deterministic; split-K slabs and the fused
/// epilogues work as in <see cref="MatmulTiled"/>, the results passing through shared memory on their
/// way out so that the stores to C coalesce.
/// <para>
/// The kernel is generic over its mma (<see cref="ITf32Mma"/>): <see cref="TensorCoreMma"/> on CUDA, through
/// inline PTX whose accumulators never leave registers; <see cref="EmulatedMma"/> on ILGPU's CPU
/// accelerator, so that tests run all the rest (staging, double buffering, edges, split-K, epilogues)
/// exactly as the GPU does. Each accelerator compiles only the one it is given.
/// </para>
/// </summary>
public static class MatmulTf32
{
    public const int TileRows = 64, TileCols = 64, SlabDepth = 32, Warps = 4, GroupSize = Warps * Tf32Fragment.WarpSize;
    /// <summary>Each warp's share of the tile: WarpRows×WarpCols, as MmaRows×MmaCols mma tiles.</summary>
    public const int WarpRows = 32, WarpCols = 32, MmaRows = WarpRows / Tf32Fragment.M, MmaCols = WarpCols / Tf32Fragment.N;
    public const int Accumulators = MmaRows * MmaCols * 4;
    /// <summary>
    /// A slab is stored as rows of SlabDepth values, A by its rows and B by its columns (after A's
    /// TileRows rows), each row padded by four floats: a stride of 4 mod 32 banks spreads a warp's
    /// fragment reads over all 32 banks.
    /// </summary>
    public const int SlabStride = SlabDepth + 4, SlabFloats = (TileRows + TileCols) * SlabStride;
    /// <summary>The C tile in shared memory, rows padded so that each half-warp's paired stores hit 32 distinct banks.</summary>
    public const int CStride = TileCols + 8;
    /// <summary>Elements of each operand's slab that one thread moves.</summary>
    public const int PerThread = TileRows * SlabDepth / GroupSize;

    /// <summary>
    /// Grid (col tiles, row tiles, splits), groups of <see cref="GroupSize"/>. With splits &gt; 1 each z-slice
    /// sums its share of the depth (a multiple of <see cref="SlabDepth"/>) into its own [Rows, Cols] slab of
    /// <paramref name="c"/>, raw, and <see cref="ElementwiseKernels.SumSlabs"/> applies the epilogue.
    /// </summary>
    public static void Kernel<TMma>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> aux,
        StridedProduct s, Epilogue epilogue, int depthPerSplit)
        where TMma : struct, ITf32Mma
    {
        var shared4 = SharedMemory.Allocate<Float4>(2 * SlabFloats / 4);
        var shared = shared4.Cast<float>();
        var mma = default(TMma);
        var accumulators = mma.Start();

        int tid = Group.IdxX, lane = tid % Tf32Fragment.WarpSize, warp = tid / Tf32Fragment.WarpSize;
        int row0 = Grid.IdxY * TileRows, col0 = Grid.IdxX * TileCols;
        int warpRow = WarpRow(warp), warpCol = WarpCol(warp);
        int pBegin = Grid.IdxZ * depthPerSplit, pEnd = Math.Min(s.Depth, pBegin + depthPerSplit);

        var aReader = SlabReader.For(tid, s.AsP == 1, row0, s.Rows, s.AsI, s.AsP, pBegin, pEnd, 0);
        var bReader = SlabReader.For(tid, s.BsP == 1, col0, s.Cols, s.BsJ, s.BsP, pBegin, pEnd, TileRows * SlabStride);
        // Where this lane's fragments start in a buffer, in Float4s: A by the tile rows it reads, B by the tile columns.
        int aFirst = ((warpRow + Tf32Fragment.ARow(lane, 0)) * SlabStride + FragmentColumn(lane, 0)) / 4;
        int bFirst = ((TileRows + warpCol + Tf32Fragment.BCol(lane, 0)) * SlabStride + FragmentColumn(lane, 0)) / 4;

        var nextA = aReader.Fetch(a);
        var nextB = bReader.Fetch(b);
        int buffer = 0;
        for (int p0 = pBegin; p0 < pEnd; p0 += SlabDepth)
        {
            aReader.Stage(shared, buffer * SlabFloats, nextA);
            bReader.Stage(shared, buffer * SlabFloats, nextB);
            // One barrier a slab is enough: the buffer written above was last read two slabs ago, before
            // every thread passed the previous barrier.
            Group.Barrier();
            if (p0 + SlabDepth < pEnd)
            {
                aReader.Advance();
                bReader.Advance();
                nextA = aReader.Fetch(a);
                nextB = bReader.Fetch(b);
            }
            // Views that start at this lane's first fragment: every read below is then a constant away,
            // an immediate offset of one address register.
            int at = buffer * SlabFloats / 4;
            var aFragments = shared4.SubView(at + aFirst);
            var bFragments = shared4.SubView(at + bFirst);
            MultiplyPair(mma, accumulators, aFragments, bFragments, 0);
            MultiplyPair(mma, accumulators, aFragments, bFragments, 1);
            buffer ^= 1;
        }

        // The C tile reuses the slab buffers once every warp is done reading them.
        Group.Barrier();
        // By hand (ILGPU 1.5.3 does not unroll loops): each tile number must be a constant.
        StoreAccumulators(mma, accumulators, shared, lane, warpRow, warpCol, 0, 0);
        StoreAccumulators(mma, accumulators, shared, lane, warpRow, warpCol, 0, 1);
        StoreAccumulators(mma, accumulators, shared, lane, warpRow, warpCol, 0, 2);
        StoreAccumulators(mma, accumulators, shared, lane, warpRow, warpCol, 0, 3);
        StoreAccumulators(mma, accumulators, shared, lane, warpRow, warpCol, 1, 0);
        StoreAccumulators(mma, accumulators, shared, lane, warpRow, warpCol, 1, 1);
        StoreAccumulators(mma, accumulators, shared, lane, warpRow, warpCol, 1, 2);
        StoreAccumulators(mma, accumulators, shared, lane, warpRow, warpCol, 1, 3);
        Group.Barrier();

        var slab = c.SubView(Grid.IdxZ * s.Rows * s.Cols, s.Rows * s.Cols);
        var final = Grid.DimZ > 1 ? Epilogue.None : epilogue;
        // Each thread keeps one column; consecutive threads write consecutive columns of a row.
        int tileCol = tid % TileCols, col = col0 + tileCol;
        for (int tileRow = tid / TileCols; tileRow < TileRows; tileRow += GroupSize / TileCols)
        {
            int row = row0 + tileRow;
            if (row < s.Rows && col < s.Cols)
                slab[row * s.Cols + col] = final.Apply(shared[tileRow * CStride + tileCol], aux, row, col, s.Cols);
        }
    }

    /// <summary>The first row and column of warp <paramref name="warp"/>'s quarter of the tile.</summary>
    public static int WarpRow(int warp) => (warp >> 1) * WarpRows;
    public static int WarpCol(int warp) => (warp & 1) * WarpCols;

    /// <summary>The number of the mma tile at (<paramref name="r"/>, <paramref name="cc"/>) of a warp's MmaRows×MmaCols: it names its accumulators.</summary>
    public static int MmaTile(int r, int cc) => r * MmaCols + cc;

    /// <summary>
    /// Where depth <paramref name="k"/> (0..31) of a slab is stored within its row. Step s = k / 8 of the
    /// slab needs, in the lane with threadID_in_group t, depths 8s + t (a0, a1, b0) and 8s + t + 4 (a2, a3,
    /// b1); they are stored side by side at 8t + 2s, so that one Float4 read gives a lane two steps' worth.
    /// </summary>
    public static int SlabColumn(int k) => 8 * (k & 3) + 2 * (k >> 3) + ((k >> 2) & 1);

    /// <summary>The first of the four stored depths (Float4-aligned) lane <paramref name="lane"/> reads for steps 2·pair and 2·pair + 1.</summary>
    public static int FragmentColumn(int lane, int pair) => 8 * (lane & 3) + 4 * pair;

    /// <summary>
    /// Which element of an operand's slab (Outer: tile row of A or tile column of B; K: depth) thread
    /// <paramref name="tid"/> moves first; its q-th is that plus <see cref="SlabStep"/>(q). Consecutive
    /// threads follow the operand's contiguous dimension in global memory: along the depth, 32 at a time;
    /// across it, 8 at a time for 4 depths, which keeps both the global reads (whole 32-byte sectors) and
    /// the shared stores (32 distinct banks) efficient.
    /// </summary>
    public static (int Outer, int K) SlabStart(int tid, bool depthContiguous) =>
        depthContiguous ? (tid >> 5, tid & 31) : ((tid & 7) + 8 * (tid >> 5), 4 * ((tid >> 3) & 3));

    /// <summary>The offset of a thread's element <paramref name="q"/> (0..PerThread-1) from its first: a constant, so every address is one register plus an immediate.</summary>
    public static (int Outer, int K) SlabStep(int q, bool depthContiguous) =>
        depthContiguous ? (4 * q, 0) : (32 * (q & 1), ((q >> 1) & 3) + 16 * (q >> 3));

    /// <summary>
    /// Where a thread's element <paramref name="q"/> is stored, relative to its first. The depths of
    /// SlabStart and SlabStep never share a bit, so <see cref="SlabColumn"/> of their sum is the sum of theirs.
    /// </summary>
    public static int SlabOffset(int q, bool depthContiguous)
    {
        var (outer, k) = SlabStep(q, depthContiguous);
        return outer * SlabStride + SlabColumn(k);
    }

    /// <summary>
    /// A value rounded to TF32 as cvt.rna.tf32.f32 does: to the nearest value with 10 explicit mantissa
    /// bits, ties away from zero (half an ulp added to the magnitude, then the 13 low bits cleared; an
    /// overflow carries into the exponent and ends at infinity). NaN becomes the canonical quiet NaN, whose
    /// low bits are clear too: the tensor core ignores those bits, and rounding CUDA's 0x7FFFFFFF would
    /// carry into the sign bit.
    /// </summary>
    public static float RoundToTf32(float x) =>
        float.IsNaN(x) ? Interop.IntAsFloat(0x7FC0_0000u) : Interop.IntAsFloat((Interop.FloatAsInt(x) + 0x1000u) & 0xFFFF_E000u);

    /// <summary>The <see cref="PerThread"/> values of one operand a thread carries from global to shared memory.</summary>
    public struct Slab16
    {
        public Float4 Q0, Q1, Q2, Q3;
    }

    /// <summary>
    /// One thread's part in moving one operand's slabs: where its first element is in global and shared
    /// memory and how much of the operand is left, so that each element's address is a constant away.
    /// </summary>
    struct SlabReader
    {
        int at, outerStride, depthStride, outerLeft, depthLeft, sharedAt;
        bool depthContiguous;

        /// <param name="outer0">The operand's first tile row (A) or column (B).</param>
        /// <param name="outers">Its rows (A) or columns (B).</param>
        /// <param name="sharedBase">Where the operand's rows start in a buffer.</param>
        public static SlabReader For(int tid, bool depthContiguous, int outer0, int outers, int outerStride, int depthStride,
            int p0, int pEnd, int sharedBase)
        {
            var (outer, k) = SlabStart(tid, depthContiguous);
            return new SlabReader
            {
                at = (outer0 + outer) * outerStride + (p0 + k) * depthStride,
                outerStride = outerStride,
                depthStride = depthStride,
                outerLeft = outers - outer0 - outer,
                depthLeft = pEnd - p0 - k,
                sharedAt = sharedBase + outer * SlabStride + SlabColumn(k),
                depthContiguous = depthContiguous,
            };
        }

        public void Advance()
        {
            at += SlabDepth * depthStride;
            depthLeft -= SlabDepth;
        }

        // Both layouts are spelled out, each with constant steps, behind one branch that is the same for the whole group.
        // A thread whose first element lies past the operand's end loads nothing (its other elements lie
        // further out still), but a view may not start there: ILGPU checks that on the CPU accelerator,
        // where the failed check ends the thread and leaves its warp waiting at the next barrier.
        public readonly Slab16 Fetch(ArrayView<float> x)
        {
            var mine = x.SubView(at < x.Length ? at : 0);
            return depthContiguous ? Fetch(mine, true) : Fetch(mine, false);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly Slab16 Fetch(ArrayView<float> x, bool contiguous) => new()
        {
            Q0 = Fetch4(x, 0, contiguous),
            Q1 = Fetch4(x, 4, contiguous),
            Q2 = Fetch4(x, 8, contiguous),
            Q3 = Fetch4(x, 12, contiguous),
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly Float4 Fetch4(ArrayView<float> x, int q, bool contiguous) =>
            new(Load(x, q, contiguous), Load(x, q + 1, contiguous), Load(x, q + 2, contiguous), Load(x, q + 3, contiguous));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly float Load(ArrayView<float> x, int q, bool contiguous)
        {
            var (outer, k) = SlabStep(q, contiguous);
            return outer < outerLeft && k < depthLeft ? x[outer * outerStride + k * depthStride] : 0f;
        }

        /// <summary>Rounds the values to TF32 and stores them in the buffer that starts at <paramref name="buffer"/>.</summary>
        public readonly void Stage(ArrayView<float> shared, int buffer, Slab16 v)
        {
            var mine = shared.SubView(buffer + sharedAt);
            if (depthContiguous) Stage(mine, v, true);
            else Stage(mine, v, false);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Stage(ArrayView<float> mine, Slab16 v, bool contiguous)
        {
            Stage4(mine, v.Q0, 0, contiguous);
            Stage4(mine, v.Q1, 4, contiguous);
            Stage4(mine, v.Q2, 8, contiguous);
            Stage4(mine, v.Q3, 12, contiguous);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Stage4(ArrayView<float> mine, Float4 v, int q, bool contiguous)
        {
            mine[SlabOffset(q, contiguous)] = RoundToTf32(v.X);
            mine[SlabOffset(q + 1, contiguous)] = RoundToTf32(v.Y);
            mine[SlabOffset(q + 2, contiguous)] = RoundToTf32(v.Z);
            mine[SlabOffset(q + 3, contiguous)] = RoundToTf32(v.W);
        }
    }

    /// <summary>
    /// Steps 2·pair and 2·pair + 1 of the slab: one Float4 per fragment row of A and per fragment column
    /// of B gives this lane both steps' operands (see <see cref="SlabColumn"/>); 16 mma.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void MultiplyPair<TMma>(TMma mma, ArrayView<float> accumulators, ArrayView<Float4> aFragments, ArrayView<Float4> bFragments, int pair)
        where TMma : struct, ITf32Mma
    {
        const int Rows8 = 8 * SlabStride / 4, Rows16 = 16 * SlabStride / 4;
        Float4 top0 = aFragments[pair], bottom0 = aFragments[pair + Rows8];
        Float4 top1 = aFragments[pair + Rows16], bottom1 = aFragments[pair + Rows16 + Rows8];
        Float4 b0 = bFragments[pair], b1 = bFragments[pair + Rows8], b2 = bFragments[pair + 2 * Rows8], b3 = bFragments[pair + 3 * Rows8];
        MultiplyStep(mma, accumulators, top0, bottom0, top1, bottom1, b0, b1, b2, b3, 0);
        MultiplyStep(mma, accumulators, top0, bottom0, top1, bottom1, b0, b1, b2, b3, 2);
    }

    /// <summary>
    /// One 8-deep step for all eight mma tiles: <paramref name="h"/> picks the step's pair of values in
    /// each Float4 (see <see cref="SlabColumn"/>): the first is the depth t (a0, a1, b0), the second t + 4 (a2, a3, b1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void MultiplyStep<TMma>(TMma mma, ArrayView<float> accumulators,
        Float4 top0, Float4 bottom0, Float4 top1, Float4 bottom1, Float4 b0, Float4 b1, Float4 b2, Float4 b3, int h)
        where TMma : struct, ITf32Mma
    {
        float t0 = top0.Get(h), t0x = top0.Get(h + 1), u0 = bottom0.Get(h), u0x = bottom0.Get(h + 1);
        float t1 = top1.Get(h), t1x = top1.Get(h + 1), u1 = bottom1.Get(h), u1x = bottom1.Get(h + 1);
        mma.Mma(accumulators, MmaTile(0, 0), t0, u0, t0x, u0x, b0.Get(h), b0.Get(h + 1));
        mma.Mma(accumulators, MmaTile(0, 1), t0, u0, t0x, u0x, b1.Get(h), b1.Get(h + 1));
        mma.Mma(accumulators, MmaTile(0, 2), t0, u0, t0x, u0x, b2.Get(h), b2.Get(h + 1));
        mma.Mma(accumulators, MmaTile(0, 3), t0, u0, t0x, u0x, b3.Get(h), b3.Get(h + 1));
        mma.Mma(accumulators, MmaTile(1, 0), t1, u1, t1x, u1x, b0.Get(h), b0.Get(h + 1));
        mma.Mma(accumulators, MmaTile(1, 1), t1, u1, t1x, u1x, b1.Get(h), b1.Get(h + 1));
        mma.Mma(accumulators, MmaTile(1, 2), t1, u1, t1x, u1x, b2.Get(h), b2.Get(h + 1));
        mma.Mma(accumulators, MmaTile(1, 3), t1, u1, t1x, u1x, b3.Get(h), b3.Get(h + 1));
    }

    /// <summary>Writes the accumulators of the warp's mma tile (<paramref name="r"/>, <paramref name="cc"/>) into the C tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreAccumulators<TMma>(TMma mma, ArrayView<float> accumulators, ArrayView<float> shared, int lane, int warpRow, int warpCol, int r, int cc)
        where TMma : struct, ITf32Mma
    {
        int row = warpRow + r * Tf32Fragment.M, col = warpCol + cc * Tf32Fragment.N;
        // c0, c1 are side by side in one row, c2, c3 likewise eight rows down.
        int upper = (row + Tf32Fragment.CRow(lane, 0)) * CStride + col + Tf32Fragment.CCol(lane, 0);
        int lower = (row + Tf32Fragment.CRow(lane, 2)) * CStride + col + Tf32Fragment.CCol(lane, 2);
        mma.Store(accumulators, MmaTile(r, cc), shared, upper, lower);
    }
}
