using System.Runtime.CompilerServices;

namespace GpuAutoencoder.Kernels;

/// <summary>
/// Version 3, the GPU schedule: a group of 16×16 threads computes a 64×64 tile of C, staging
/// 64×16 slices of A and B through shared memory, each thread accumulating a 4×4 block in
/// registers from two Float4 shared-memory reads per 16 multiply-adds.
/// One kernel covers all three <see cref="MatmulShape"/>s through <see cref="StridedProduct"/>:
/// each thread fetches four consecutive elements of each operand per slice along whichever
/// dimension of it is contiguous, so global reads coalesce and, where the rows are Float4-aligned,
/// move as one 16-byte load. Any sizes work; elements outside the matrices load as zero and are
/// never stored. On the CPU accelerator every barrier is a rendezvous of real threads, so this
/// version is only run there by tests, at small sizes.
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
    /// <param name="alignedStarts">Bit 0 set when <paramref name="a"/> starts 16-byte aligned, bit 1 when
    /// <paramref name="b"/> does: only then may their rows be read as Float4 (ILGPU 1.5.3 can neither
    /// test a view's address in a PTX kernel nor pass a bool).</param>
    public static void Kernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> aux,
        StridedProduct s, Epilogue epilogue, int depthPerSplit, int alignedStarts)
    {
        var aTile = SharedMemory.Allocate<Float4>(Depth * Stride4);
        var bTile = SharedMemory.Allocate<Float4>(Depth * Stride4);

        int tx = Group.IdxX, ty = Group.IdxY, tid = ty * ThreadsPerSide + tx;
        int row0 = Grid.IdxY * Tile, col0 = Grid.IdxX * Tile;
        int pBegin = Grid.IdxZ * depthPerSplit, pEnd = Math.Min(s.Depth, pBegin + depthPerSplit);

        // All slice indexing is worked out here once; the loop only advances offsets.
        var fetchA = SliceFetch.Create(a, (alignedStarts & 1) != 0, aTile, tid, row0, s.Rows, s.AsI, s.AsP, pBegin, pEnd);
        var fetchB = SliceFetch.Create(b, (alignedStarts & 2) != 0, bTile, tid, col0, s.Cols, s.BsJ, s.BsP, pBegin, pEnd);
        // Each thread's Float4 columns of the shared slices: constant offsets from here on.
        var aMine = aTile.SubView(ty, aTile.Length - ty);
        var bMine = bTile.SubView(tx, bTile.Length - tx);

        // The next slice is fetched into registers while the current one is multiplied, so global
        // latency overlaps arithmetic instead of stalling every group at each barrier.
        Float4 nextA = fetchA.Next(), nextB = fetchB.Next();
        Float4 c0 = default, c1 = default, c2 = default, c3 = default;
        for (int p0 = pBegin; p0 < pEnd; p0 += Depth)
        {
            fetchA.Store(nextA);
            fetchB.Store(nextB);
            Group.Barrier();
            // Past the last slice this loads nothing (every element is outside the depth), and not
            // branching around it keeps the fetched registers in place across iterations.
            nextA = fetchA.Next();
            nextB = fetchB.Next();
            // The 16-deep slice unrolled by hand, in order (ILGPU 1.5.3 does not unroll loops):
            // constant shared-memory offsets and no loop counter.
            MultiplySlice(aMine, bMine, 0, ref c0, ref c1, ref c2, ref c3);
            MultiplySlice(aMine, bMine, 4, ref c0, ref c1, ref c2, ref c3);
            MultiplySlice(aMine, bMine, 8, ref c0, ref c1, ref c2, ref c3);
            MultiplySlice(aMine, bMine, 12, ref c0, ref c1, ref c2, ref c3);
            Group.Barrier();
        }

        var slab = c.SubView(Grid.IdxZ * s.Rows * s.Cols, s.Rows * s.Cols);
        var final = Grid.DimZ > 1 ? Epilogue.None : epilogue;
        int rowBase = row0 + ty * 4, colBase = col0 + tx * 4;
        StoreRow(slab, aux, s, rowBase, colBase, c0, final);
        StoreRow(slab, aux, s, rowBase + 1, colBase, c1, final);
        StoreRow(slab, aux, s, rowBase + 2, colBase, c2, final);
        StoreRow(slab, aux, s, rowBase + 3, colBase, c3, final);
    }

    /// <summary>Four depth steps k0..k0+3 of the register block: c_r += a[k, 4·ty + r] · b[k, 4·tx..].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void MultiplySlice(ArrayView<Float4> aMine, ArrayView<Float4> bMine, int k0,
        ref Float4 c0, ref Float4 c1, ref Float4 c2, ref Float4 c3)
    {
        Float4 av = aMine[k0 * Stride4], bv = bMine[k0 * Stride4];
        c0 = Float4.MulAdd(c0, av.X, bv); c1 = Float4.MulAdd(c1, av.Y, bv); c2 = Float4.MulAdd(c2, av.Z, bv); c3 = Float4.MulAdd(c3, av.W, bv);
        av = aMine[(k0 + 1) * Stride4]; bv = bMine[(k0 + 1) * Stride4];
        c0 = Float4.MulAdd(c0, av.X, bv); c1 = Float4.MulAdd(c1, av.Y, bv); c2 = Float4.MulAdd(c2, av.Z, bv); c3 = Float4.MulAdd(c3, av.W, bv);
        av = aMine[(k0 + 2) * Stride4]; bv = bMine[(k0 + 2) * Stride4];
        c0 = Float4.MulAdd(c0, av.X, bv); c1 = Float4.MulAdd(c1, av.Y, bv); c2 = Float4.MulAdd(c2, av.Z, bv); c3 = Float4.MulAdd(c3, av.W, bv);
        av = aMine[(k0 + 3) * Stride4]; bv = bMine[(k0 + 3) * Stride4];
        c0 = Float4.MulAdd(c0, av.X, bv); c1 = Float4.MulAdd(c1, av.Y, bv); c2 = Float4.MulAdd(c2, av.Z, bv); c3 = Float4.MulAdd(c3, av.W, bv);
    }

    /// <summary>
    /// One thread's share of an operand's slices: four consecutive elements of the operand's
    /// contiguous dimension per slice, fetched from global memory and written into the k-major
    /// shared slice.
    /// </summary>
    struct SliceFetch
    {
        ArrayView<float> source;
        // The thread's first shared element: the other three are a constant distance away down the
        // k rows, or the whole Float4 along one.
        ArrayView<float> shared;
        ArrayView<Float4> shared4;
        // Element offset of the thread's four elements in the current slice, and how far a slice moves it.
        int index, step;
        // Depth still ahead of the thread's first element (scaled by 4 when the four run across the
        // outer dimension, so that one comparison with 4 serves both layouts), and its step.
        int depthLeft, depthStep;
        // How many of the four are inside the outer dimension (0..4); 4 along the depth when inside.
        int outerCount;
        // Whether the four elements are consecutive along the depth (else along the outer dimension).
        bool alongDepth;
        // Whether a slice whose four elements are all inside may be read as one Float4.
        bool vector;

        /// <param name="origin">The tile's first outer index (row of A, column of B).</param>
        /// <param name="extent">The outer dimension's size.</param>
        /// <param name="outerStride">Element distance between outer indices.</param>
        /// <param name="depthStride">Element distance between depth indices.</param>
        public static SliceFetch Create(ArrayView<float> source, bool startsAligned, ArrayView<Float4> tile, int tid,
            int origin, int extent, int outerStride, int depthStride, int pBegin, int pEnd)
        {
            var f = default(SliceFetch);
            f.source = source;
            f.alongDepth = depthStride == 1;
            // 64 outer × 16 depth elements, four per thread: 4 threads cover one outer index's
            // 16 depth steps, or 16 threads one depth step's 64 outer indices.
            int outer, k;
            if (f.alongDepth)
            {
                outer = tid >> 2;
                k = (tid & 3) << 2;
                f.outerCount = origin + outer < extent ? 4 : 0;
                f.depthLeft = pEnd - pBegin - k;
                f.depthStep = Depth;
            }
            else
            {
                k = tid >> 4;
                outer = (tid & 15) << 2;
                f.outerCount = Math.Max(0, Math.Min(4, extent - origin - outer));
                f.depthLeft = (pEnd - pBegin - k) << 2;
                f.depthStep = Depth << 2;
            }
            f.index = (origin + outer) * outerStride + (pBegin + k) * depthStride;
            f.step = Depth * depthStride;
            // A Float4 read needs its first element 16-byte aligned: the view's start and the
            // thread's offset in it, which a slice's step (a multiple of 16 elements) keeps.
            f.vector = f.outerCount == 4 && (f.index & 3) == 0 && startsAligned;
            f.shared = tile.Cast<float>().SubView(k * Stride4 * 4 + outer);
            f.shared4 = tile.SubView(k * Stride4 + (outer >> 2));
            return f;
        }

        /// <summary>The thread's four elements of the next slice, zero outside the matrix.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Float4 Next()
        {
            Float4 v;
            if (vector && depthLeft >= 4)
                v = source.Cast<Float4>()[index >> 2];
            else
            {
                int n = Math.Min(outerCount, depthLeft);
                v = new Float4(n > 0 ? source[index] : 0f, n > 1 ? source[index + 1] : 0f,
                    n > 2 ? source[index + 2] : 0f, n > 3 ? source[index + 3] : 0f);
            }
            index += step;
            depthLeft -= depthStep;
            return v;
        }

        /// <summary>Writes the four elements into the k-major shared slice: down four k rows, or along one.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Store(Float4 v)
        {
            if (alongDepth)
            {
                shared[0] = v.X;
                shared[Stride4 * 4] = v.Y;
                shared[2 * Stride4 * 4] = v.Z;
                shared[3 * Stride4 * 4] = v.W;
            }
            else
                shared4[0] = v;
        }
    }

    static void StoreRow(ArrayView<float> c, ArrayView<float> aux, StridedProduct s, int row, int col0, Float4 v, Epilogue epilogue)
    {
        if (row >= s.Rows) return;
        for (int q = 0; q < 4 && col0 + q < s.Cols; q++)
            c[row * s.Cols + col0 + q] = epilogue.Apply(v.Get(q), aux, row, col0 + q, s.Cols);
    }
}
