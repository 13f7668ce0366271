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
    /// the caller then adds the slabs in a fixed order (split-K without atomics, for the weight
    /// gradients, whose few output tiles would otherwise leave most of a large GPU idle).
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

        Float4 c0 = default, c1 = default, c2 = default, c3 = default;
        for (int p0 = pBegin; p0 < pEnd; p0 += Depth)
        {
            for (int e = tid; e < Tile * Depth; e += GroupSize)
            {
                // Consecutive threads walk the operand's contiguous dimension.
                int r, k;
                if (s.AsP == 1) { r = e / Depth; k = e - r * Depth; }
                else { k = e / Tile; r = e - k * Tile; }
                int i = row0 + r, p = p0 + k;
                aScalar[k * Stride4 * 4 + r] = i < s.Rows && p < pEnd ? a[i * s.AsI + p * s.AsP] : 0f;

                int j;
                if (s.BsP == 1) { j = e / Depth; k = e - j * Depth; }
                else { k = e / Tile; j = e - k * Tile; }
                p = p0 + k;
                int col = col0 + j;
                bScalar[k * Stride4 * 4 + j] = col < s.Cols && p < pEnd ? b[p * s.BsP + col * s.BsJ] : 0f;
            }
            Group.Barrier();

            for (int k = 0; k < Depth; k++)
            {
                Float4 av = aTile[k * Stride4 + ty], bv = bTile[k * Stride4 + tx];
                c0 = Float4.MulAdd(c0, av.X, bv);
                c1 = Float4.MulAdd(c1, av.Y, bv);
                c2 = Float4.MulAdd(c2, av.Z, bv);
                c3 = Float4.MulAdd(c3, av.W, bv);
            }
            Group.Barrier();
        }

        var slab = c.SubView(Grid.IdxZ * s.Rows * s.Cols, s.Rows * s.Cols);
        int rowBase = row0 + ty * 4, colBase = col0 + tx * 4;
        StoreRow(slab, aux, s, rowBase, colBase, c0, epilogue);
        StoreRow(slab, aux, s, rowBase + 1, colBase, c1, epilogue);
        StoreRow(slab, aux, s, rowBase + 2, colBase, c2, epilogue);
        StoreRow(slab, aux, s, rowBase + 3, colBase, c3, epilogue);
    }

    static void StoreRow(ArrayView<float> c, ArrayView<float> aux, StridedProduct s, int row, int col0, Float4 v, Epilogue epilogue)
    {
        if (row >= s.Rows) return;
        for (int q = 0; q < 4 && col0 + q < s.Cols; q++)
            c[row * s.Cols + col0 + q] = epilogue.Apply(v.Get(q), aux, row, col0 + q, s.Cols);
    }
}
