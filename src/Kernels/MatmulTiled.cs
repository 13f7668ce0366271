namespace GpuAutoencoder.Kernels;

/// <summary>
/// Version 3, the GPU schedule: a group of 16×16 threads computes a 64×64 tile of C, staging
/// 64×16 slices of A and B through shared memory, each thread accumulating a 4×4 block in
/// registers from two Float4 shared-memory reads per 16 multiply-adds.
/// One kernel covers all three <see cref="MatmulShape"/>s through <see cref="StridedProduct"/>:
/// the slice loads follow whichever dimension of each operand is contiguous, so global reads stay
/// coalesced. Any sizes work; elements outside the matrices load as zero and are never stored.
/// On the CPU accelerator every barrier is a rendezvous of real threads, so this version is only
/// run there by tests, at small sizes.
/// </summary>
public static class MatmulTiled
{
    public const int Tile = 64, Depth = 16, ThreadsPerSide = 16, GroupSize = ThreadsPerSide * ThreadsPerSide;
    // Shared rows are padded by one Float4 so that the transposing stores spread over more banks.
    const int Stride4 = Tile / 4 + 1;

    /// <summary>
    /// Grid (col tiles, row tiles, splits). With splits &gt; 1 each z-slice of the grid sums only its
    /// share of the depth and writes raw sums to its own [Rows, Cols] slab of <paramref name="c"/>;
    /// <see cref="ElementwiseKernels.SumSlabs"/> then adds the slabs in a fixed order and applies the
    /// epilogue (split-K without atomics: the layer shapes are too small to fill a large GPU otherwise).
    /// </summary>
    public static void Kernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> aux,
        StridedProduct s, Epilogue epilogue, int depthPerSplit)
    {
        var aTile = SharedMemory.Allocate<Float4>(Depth * Stride4);
        var bTile = SharedMemory.Allocate<Float4>(Depth * Stride4);
        var aScalar = aTile.Cast<float>();
        var bScalar = bTile.Cast<float>();

        int tx = Group.IdxX, ty = Group.IdxY, tid = ty * ThreadsPerSide + tx;
        int row0 = Grid.IdxY * Tile, col0 = Grid.IdxX * Tile;
        int pBegin = Grid.IdxZ * depthPerSplit, pEnd = Math.Min(s.Depth, pBegin + depthPerSplit);
        bool splits = Grid.DimZ > 1;

        // The next slice is fetched into registers while the current one is multiplied, so global
        // latency overlaps arithmetic instead of stalling every group at each barrier.
        Float4 nextA = FetchA(a, s, tid, GroupSize, row0, pBegin, pEnd), nextB = FetchB(b, s, tid, GroupSize, col0, pBegin, pEnd);
        Float4 c0 = default, c1 = default, c2 = default, c3 = default;
        for (int p0 = pBegin; p0 < pEnd; p0 += Depth)
        {
            StoreSlice(aScalar, nextA, tid, GroupSize, s.AsP == 1);
            StoreSlice(bScalar, nextB, tid, GroupSize, s.BsP == 1);
            Group.Barrier();
            if (p0 + Depth < pEnd)
            {
                nextA = FetchA(a, s, tid, GroupSize, row0, p0 + Depth, pEnd);
                nextB = FetchB(b, s, tid, GroupSize, col0, p0 + Depth, pEnd);
            }
            // The 16-deep slice unrolled by hand, in order (ILGPU 1.5.3 no longer unrolls loops):
            // constant shared-memory offsets and no loop counter; results are bit-identical.
            MultiplySlice(aTile, bTile, ty, tx, 0, ref c0, ref c1, ref c2, ref c3);
            MultiplySlice(aTile, bTile, ty, tx, 4, ref c0, ref c1, ref c2, ref c3);
            MultiplySlice(aTile, bTile, ty, tx, 8, ref c0, ref c1, ref c2, ref c3);
            MultiplySlice(aTile, bTile, ty, tx, 12, ref c0, ref c1, ref c2, ref c3);
            Group.Barrier();
        }

        var slab = c.SubView(Grid.IdxZ * s.Rows * s.Cols, s.Rows * s.Cols);
        var final = splits ? Epilogue.None : epilogue;
        int rowBase = row0 + ty * 4, colBase = col0 + tx * 4;
        StoreRow(slab, aux, s, rowBase, colBase, c0, final);
        StoreRow(slab, aux, s, rowBase + 1, colBase, c1, final);
        StoreRow(slab, aux, s, rowBase + 2, colBase, c2, final);
        StoreRow(slab, aux, s, rowBase + 3, colBase, c3, final);
    }

    /// <summary>Four depth steps k0..k0+3 of the register block: c_r += a[k, 4·ty + r] · b[k, 4·tx..].</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    static void MultiplySlice(ArrayView<Float4> aTile, ArrayView<Float4> bTile, int ty, int tx, int k0,
        ref Float4 c0, ref Float4 c1, ref Float4 c2, ref Float4 c3)
    {
        Float4 av = aTile[k0 * Stride4 + ty], bv = bTile[k0 * Stride4 + tx];
        c0 = Float4.MulAdd(c0, av.X, bv); c1 = Float4.MulAdd(c1, av.Y, bv); c2 = Float4.MulAdd(c2, av.Z, bv); c3 = Float4.MulAdd(c3, av.W, bv);
        av = aTile[(k0 + 1) * Stride4 + ty]; bv = bTile[(k0 + 1) * Stride4 + tx];
        c0 = Float4.MulAdd(c0, av.X, bv); c1 = Float4.MulAdd(c1, av.Y, bv); c2 = Float4.MulAdd(c2, av.Z, bv); c3 = Float4.MulAdd(c3, av.W, bv);
        av = aTile[(k0 + 2) * Stride4 + ty]; bv = bTile[(k0 + 2) * Stride4 + tx];
        c0 = Float4.MulAdd(c0, av.X, bv); c1 = Float4.MulAdd(c1, av.Y, bv); c2 = Float4.MulAdd(c2, av.Z, bv); c3 = Float4.MulAdd(c3, av.W, bv);
        av = aTile[(k0 + 3) * Stride4 + ty]; bv = bTile[(k0 + 3) * Stride4 + tx];
        c0 = Float4.MulAdd(c0, av.X, bv); c1 = Float4.MulAdd(c1, av.Y, bv); c2 = Float4.MulAdd(c2, av.Z, bv); c3 = Float4.MulAdd(c3, av.W, bv);
    }

    // A slice holds Tile×Depth elements. A thread moves elements e0, e0 + stride, e0 + 2·stride and
    // e0 + 3·stride at a time; consecutive threads walk the operand's contiguous dimension, so
    // global reads coalesce.
    static (int Outer, int K) SliceIndex(int e, bool depthContiguous) =>
        depthContiguous ? (e / Depth, e % Depth) : (e % Tile, e / Tile);

    static Float4 FetchA(ArrayView<float> a, StridedProduct s, int e0, int stride, int row0, int p0, int pEnd) => new(
        LoadA(a, s, e0, row0, p0, pEnd), LoadA(a, s, e0 + stride, row0, p0, pEnd),
        LoadA(a, s, e0 + 2 * stride, row0, p0, pEnd), LoadA(a, s, e0 + 3 * stride, row0, p0, pEnd));

    static float LoadA(ArrayView<float> a, StridedProduct s, int e, int row0, int p0, int pEnd)
    {
        var (r, k) = SliceIndex(e, s.AsP == 1);
        int i = row0 + r, p = p0 + k;
        return i < s.Rows && p < pEnd ? a[i * s.AsI + p * s.AsP] : 0f;
    }

    static Float4 FetchB(ArrayView<float> b, StridedProduct s, int e0, int stride, int col0, int p0, int pEnd) => new(
        LoadB(b, s, e0, col0, p0, pEnd), LoadB(b, s, e0 + stride, col0, p0, pEnd),
        LoadB(b, s, e0 + 2 * stride, col0, p0, pEnd), LoadB(b, s, e0 + 3 * stride, col0, p0, pEnd));

    static float LoadB(ArrayView<float> b, StridedProduct s, int e, int col0, int p0, int pEnd)
    {
        var (j, k) = SliceIndex(e, s.BsP == 1);
        int col = col0 + j, p = p0 + k;
        return col < s.Cols && p < pEnd ? b[p * s.BsP + col * s.BsJ] : 0f;
    }

    /// <summary>Writes four fetched elements into the k-major shared slice (row length Stride4 Float4s).</summary>
    static void StoreSlice(ArrayView<float> tile, Float4 v, int e0, int stride, bool depthContiguous)
    {
        for (int q = 0; q < 4; q++)
        {
            var (outer, k) = SliceIndex(e0 + q * stride, depthContiguous);
            tile[k * Stride4 * 4 + outer] = v.Get(q);
        }
    }

    static void StoreRow(ArrayView<float> c, ArrayView<float> aux, StridedProduct s, int row, int col0, Float4 v, Epilogue epilogue)
    {
        if (row >= s.Rows) return;
        for (int q = 0; q < 4 && col0 + q < s.Cols; q++)
            c[row * s.Cols + col0 + q] = epilogue.Apply(v.Get(q), aux, row, col0 + q, s.Cols);
    }
}
