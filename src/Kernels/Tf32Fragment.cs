namespace GpuAutoencoder.Kernels;

/// <summary>
/// Which element of the A (16×8, row-major), B (8×8, column-major) and C/D (16×8) tiles each lane's
/// registers hold in mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, as the PTX ISA lays them out
/// (groupID = lane / 4, threadID_in_group = lane % 4), and the inverse: which lane and register hold a
/// given element. Plain integer arithmetic, so the kernel, its CPU emulation and the tests all use the
/// very same functions.
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

    /// <summary>The lane and register that hold A[<paramref name="row"/>, <paramref name="k"/>].</summary>
    public static int ALane(int row, int k) => 4 * (row & 7) + (k & 3);
    public static int AReg(int row, int k) => (row >> 3) + 2 * (k >> 2);
    /// <summary>The lane and register that hold B[<paramref name="k"/>, <paramref name="col"/>].</summary>
    public static int BLane(int k, int col) => 4 * col + (k & 3);
    public static int BReg(int k, int col) => k >> 2;
}
