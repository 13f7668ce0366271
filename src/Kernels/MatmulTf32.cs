using ILGPU.Runtime.Cuda;

namespace GpuAutoencoder.Kernels;

/// <summary>
/// Which element of the A (16×8, row-major), B (8×8, column-major) and C/D (16×8) tiles each lane's
/// registers hold in mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, as the PTX ISA lays them out
/// (groupID = lane / 4, threadID_in_group = lane % 4). Plain integer arithmetic, so the kernel and the
/// tests use the very same functions; the CPU accelerator cannot run the mma itself.
/// </summary>
public static class Tf32Fragment
{
    public const int M = 16, N = 8, K = 8, WarpSize = 32;

    /// <summary>A register <paramref name="reg"/> (0..3): row groupID (+8 for a1, a3), column threadID_in_group (+4 for a2, a3).</summary>
    public static int ARow(int lane, int reg) => (lane >> 2) + 8 * (reg & 1);
    public static int ACol(int lane, int reg) => (lane & 3) + 4 * (reg >> 1);
    /// <summary>B register <paramref name="reg"/> (0..1): depth row threadID_in_group (+4 for b1), column groupID.</summary>
    public static int BRow(int lane, int reg) => (lane & 3) + 4 * reg;
    public static int BCol(int lane, int reg) => lane >> 2;
    /// <summary>C/D register <paramref name="reg"/> (0..3): row groupID (+8 for c2, c3), column 2·threadID_in_group + (reg &amp; 1).</summary>
    public static int CRow(int lane, int reg) => (lane >> 2) + 8 * (reg >> 1);
    public static int CCol(int lane, int reg) => 2 * (lane & 3) + (reg & 1);
}

/// <summary>
/// The TF32 tensor-core product, for <see cref="Precision.Tf32"/>. A group of four warps computes a 32×16
/// tile of C; each warp owns one 16×8 mma tile of it. Each 8-deep slice of A and B is converted to TF32
/// (cvt.rna: round to nearest, ties away) once, as it is staged into shared memory, and every warp then
/// reads its fragments from there with <see cref="Tf32Fragment"/>'s layout. Accumulation is fp32 in the
/// mma's C registers, in a fixed order, so runs stay deterministic; split-K slabs and the fused epilogues
/// work as in <see cref="MatmulTiled"/>.
/// This kernel compiles only for CUDA (the inline PTX is guarded by <see cref="CudaAsm.IsSupported"/>, and
/// <see cref="DeviceKernels"/> loads it only on a CUDA accelerator of compute capability 8.0 or higher).
/// </summary>
public static class MatmulTf32
{
    public const int TileRows = 32, TileCols = 16, Depth = Tf32Fragment.K, Warps = 4, GroupSize = Warps * Tf32Fragment.WarpSize;

    public static void Kernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> aux,
        StridedProduct s, Epilogue epilogue, int depthPerSplit)
    {
        if (!CudaAsm.IsSupported) return;
        // Staged as TF32 bit patterns: [row, k] for A and [k, col] for B.
        var aTile = SharedMemory.Allocate<uint>(TileRows * Depth);
        var bTile = SharedMemory.Allocate<uint>(Depth * TileCols);
        int tid = Group.IdxX, lane = tid % Tf32Fragment.WarpSize, warp = tid / Tf32Fragment.WarpSize;
        int row0 = Grid.IdxY * TileRows, col0 = Grid.IdxX * TileCols;
        int wr = (warp >> 1) * Tf32Fragment.M, wc = (warp & 1) * Tf32Fragment.N;
        int pBegin = Grid.IdxZ * depthPerSplit, pEnd = Math.Min(s.Depth, pBegin + depthPerSplit);

        // Ref: the mma reads them as C and writes them back as D (in and out of one register each).
        Ref<float> d0 = 0f, d1 = 0f, d2 = 0f, d3 = 0f;
        for (int p0 = pBegin; p0 < pEnd; p0 += Depth)
        {
            // A slice: 32×8 elements, two per thread; B slice: 8×16, one per thread. Consecutive threads
            // walk each operand's contiguous dimension so that global reads coalesce.
            StageA(a, aTile, s, tid, row0, p0, pEnd);
            StageA(a, aTile, s, tid + GroupSize, row0, p0, pEnd);
            StageB(b, bTile, s, tid, col0, p0, pEnd);
            Group.Barrier();
            Input<uint> a0 = aTile[(wr + Tf32Fragment.ARow(lane, 0)) * Depth + Tf32Fragment.ACol(lane, 0)];
            Input<uint> a1 = aTile[(wr + Tf32Fragment.ARow(lane, 1)) * Depth + Tf32Fragment.ACol(lane, 1)];
            Input<uint> a2 = aTile[(wr + Tf32Fragment.ARow(lane, 2)) * Depth + Tf32Fragment.ACol(lane, 2)];
            Input<uint> a3 = aTile[(wr + Tf32Fragment.ARow(lane, 3)) * Depth + Tf32Fragment.ACol(lane, 3)];
            Input<uint> b0 = bTile[Tf32Fragment.BRow(lane, 0) * TileCols + wc + Tf32Fragment.BCol(lane, 0)];
            Input<uint> b1 = bTile[Tf32Fragment.BRow(lane, 1) * TileCols + wc + Tf32Fragment.BCol(lane, 1)];
            CudaAsm.EmitRef("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
                ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1);
            Group.Barrier();
        }

        var slab = c.SubView(Grid.IdxZ * s.Rows * s.Cols, s.Rows * s.Cols);
        var final = Grid.DimZ > 1 ? Epilogue.None : epilogue;
        Store(slab, aux, s, row0 + wr + Tf32Fragment.CRow(lane, 0), col0 + wc + Tf32Fragment.CCol(lane, 0), d0.Value, final);
        Store(slab, aux, s, row0 + wr + Tf32Fragment.CRow(lane, 1), col0 + wc + Tf32Fragment.CCol(lane, 1), d1.Value, final);
        Store(slab, aux, s, row0 + wr + Tf32Fragment.CRow(lane, 2), col0 + wc + Tf32Fragment.CCol(lane, 2), d2.Value, final);
        Store(slab, aux, s, row0 + wr + Tf32Fragment.CRow(lane, 3), col0 + wc + Tf32Fragment.CCol(lane, 3), d3.Value, final);
    }

    static void StageA(ArrayView<float> a, ArrayView<uint> tile, StridedProduct s, int e, int row0, int p0, int pEnd)
    {
        int r = s.AsP == 1 ? e / Depth : e % TileRows, k = s.AsP == 1 ? e % Depth : e / TileRows;
        int i = row0 + r, p = p0 + k;
        tile[r * Depth + k] = ToTf32(i < s.Rows && p < pEnd ? a[i * s.AsI + p * s.AsP] : 0f);
    }

    static void StageB(ArrayView<float> b, ArrayView<uint> tile, StridedProduct s, int e, int col0, int p0, int pEnd)
    {
        int j = s.BsP == 1 ? e / Depth : e % TileCols, k = s.BsP == 1 ? e % Depth : e / TileCols;
        int col = col0 + j, p = p0 + k;
        tile[k * TileCols + j] = ToTf32(col < s.Cols && p < pEnd ? b[p * s.BsP + col * s.BsJ] : 0f);
    }

    static uint ToTf32(float x)
    {
        var tf32 = new Output<uint>();
        Input<float> value = x;
        CudaAsm.EmitRef("cvt.rna.tf32.f32 %0, %1;", ref tf32, ref value);
        return tf32.Value;
    }

    static void Store(ArrayView<float> c, ArrayView<float> aux, StridedProduct s, int row, int col, float v, Epilogue epilogue)
    {
        if (row < s.Rows && col < s.Cols) c[row * s.Cols + col] = epilogue.Apply(v, aux, row, col, s.Cols);
    }
}
