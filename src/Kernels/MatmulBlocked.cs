namespace GpuAutoencoder.Kernels;

/// <summary>
/// Version 2, the CPU-accelerator schedule: barrier-free and implicitly grouped, each thread
/// computing a 4×4 block of outputs from Float4 loads. ILGPU's CPU accelerator runs shared-memory
/// kernels orders of magnitude slower than this, because every barrier is a real thread rendezvous.
/// Requires every row that is read as Float4 to have a length that is a multiple of 4 and to
/// start 16-byte aligned; <see cref="Matmul"/> falls back to version 1 otherwise.
/// </summary>
public static class MatmulBlocked
{
    /// <summary>Y = X·Wᵀ: thread (x, y) owns rows 4y.. and columns 4x.., both clamped at the edge.</summary>
    public static void Forward(Index2D index, ArrayView<Float4> x, ArrayView<Float4> w, ArrayView<float> y,
        ArrayView<float> aux, int m, int n, int k, Epilogue epilogue)
    {
        int k4 = k / 4, n0 = index.X * 4, m0 = index.Y * 4;
        // Clamping instead of branching keeps the inner loop free of bounds tests; the duplicate
        // edge rows are computed and simply not stored.
        int a0 = Math.Min(m0, m - 1) * k4, a1 = Math.Min(m0 + 1, m - 1) * k4;
        int a2 = Math.Min(m0 + 2, m - 1) * k4, a3 = Math.Min(m0 + 3, m - 1) * k4;
        int b0 = Math.Min(n0, n - 1) * k4, b1 = Math.Min(n0 + 1, n - 1) * k4;
        int b2 = Math.Min(n0 + 2, n - 1) * k4, b3 = Math.Min(n0 + 3, n - 1) * k4;
        Float4 c0 = default, c1 = default, c2 = default, c3 = default;
        // Unrolled by hand (ILGPU 1.5.3 does not unroll): two depth steps per iteration, each
        // accumulated in the same order as one step at a time, so the results are bit-identical.
        int p = 0;
        for (; p + 1 < k4; p += 2)
        {
            Float4 w0 = w[b0 + p], w1 = w[b1 + p], w2 = w[b2 + p], w3 = w[b3 + p];
            c0 = DotRow(c0, x[a0 + p], w0, w1, w2, w3);
            c1 = DotRow(c1, x[a1 + p], w0, w1, w2, w3);
            c2 = DotRow(c2, x[a2 + p], w0, w1, w2, w3);
            c3 = DotRow(c3, x[a3 + p], w0, w1, w2, w3);
            w0 = w[b0 + p + 1]; w1 = w[b1 + p + 1]; w2 = w[b2 + p + 1]; w3 = w[b3 + p + 1];
            c0 = DotRow(c0, x[a0 + p + 1], w0, w1, w2, w3);
            c1 = DotRow(c1, x[a1 + p + 1], w0, w1, w2, w3);
            c2 = DotRow(c2, x[a2 + p + 1], w0, w1, w2, w3);
            c3 = DotRow(c3, x[a3 + p + 1], w0, w1, w2, w3);
        }
        if (p < k4)
        {
            Float4 w0 = w[b0 + p], w1 = w[b1 + p], w2 = w[b2 + p], w3 = w[b3 + p];
            c0 = DotRow(c0, x[a0 + p], w0, w1, w2, w3);
            c1 = DotRow(c1, x[a1 + p], w0, w1, w2, w3);
            c2 = DotRow(c2, x[a2 + p], w0, w1, w2, w3);
            c3 = DotRow(c3, x[a3 + p], w0, w1, w2, w3);
        }
        StoreBlock(y, aux, m, n, m0, n0, c0, c1, c2, c3, epilogue);
    }

    /// <summary>dX = dY·W: thread (x, y) owns rows 4y.. (clamped) and columns 4x..4x+3 of dX.</summary>
    public static void BackwardInput(Index2D index, ArrayView<Float4> dy, ArrayView<Float4> w, ArrayView<float> dx,
        ArrayView<float> aux, int m, int n, int k, Epilogue epilogue)
    {
        int n4 = n / 4, k4 = k / 4, kb = index.X, m0 = index.Y * 4;
        int a0 = Math.Min(m0, m - 1) * n4, a1 = Math.Min(m0 + 1, m - 1) * n4;
        int a2 = Math.Min(m0 + 2, m - 1) * n4, a3 = Math.Min(m0 + 3, m - 1) * n4;
        Float4 c0 = default, c1 = default, c2 = default, c3 = default;
        // Unrolled by hand, two steps per iteration in the original order (bit-identical).
        int p = 0;
        for (; p + 1 < n4; p += 2)
        {
            // Four consecutive rows of W, each contributing its 4-column slice.
            int wr = 4 * p * k4 + kb;
            Float4 w0 = w[wr], w1 = w[wr + k4], w2 = w[wr + 2 * k4], w3 = w[wr + 3 * k4];
            c0 = Combine(c0, dy[a0 + p], w0, w1, w2, w3);
            c1 = Combine(c1, dy[a1 + p], w0, w1, w2, w3);
            c2 = Combine(c2, dy[a2 + p], w0, w1, w2, w3);
            c3 = Combine(c3, dy[a3 + p], w0, w1, w2, w3);
            wr += 4 * k4;
            w0 = w[wr]; w1 = w[wr + k4]; w2 = w[wr + 2 * k4]; w3 = w[wr + 3 * k4];
            c0 = Combine(c0, dy[a0 + p + 1], w0, w1, w2, w3);
            c1 = Combine(c1, dy[a1 + p + 1], w0, w1, w2, w3);
            c2 = Combine(c2, dy[a2 + p + 1], w0, w1, w2, w3);
            c3 = Combine(c3, dy[a3 + p + 1], w0, w1, w2, w3);
        }
        if (p < n4)
        {
            int wr = 4 * p * k4 + kb;
            Float4 w0 = w[wr], w1 = w[wr + k4], w2 = w[wr + 2 * k4], w3 = w[wr + 3 * k4];
            c0 = Combine(c0, dy[a0 + p], w0, w1, w2, w3);
            c1 = Combine(c1, dy[a1 + p], w0, w1, w2, w3);
            c2 = Combine(c2, dy[a2 + p], w0, w1, w2, w3);
            c3 = Combine(c3, dy[a3 + p], w0, w1, w2, w3);
        }
        StoreBlock(dx, aux, m, k, m0, kb * 4, c0, c1, c2, c3, epilogue);
    }

    /// <summary>dW = dYᵀ·X: thread (x, y) owns rows 4y..4y+3 and columns 4x..4x+3 of dW; a sum of outer products over the batch.</summary>
    public static void BackwardWeight(Index2D index, ArrayView<Float4> dy, ArrayView<Float4> x, ArrayView<float> dw,
        int m, int n, int k)
    {
        int n4 = n / 4, k4 = k / 4, kb = index.X, nb = index.Y;
        Float4 c0 = default, c1 = default, c2 = default, c3 = default;
        // Unrolled by hand, two batch rows per iteration in the original order (bit-identical).
        int i = 0;
        for (; i + 1 < m; i += 2)
        {
            Float4 g = dy[i * n4 + nb], v = x[i * k4 + kb];
            c0 = Float4.MulAdd(c0, g.X, v);
            c1 = Float4.MulAdd(c1, g.Y, v);
            c2 = Float4.MulAdd(c2, g.Z, v);
            c3 = Float4.MulAdd(c3, g.W, v);
            g = dy[(i + 1) * n4 + nb];
            v = x[(i + 1) * k4 + kb];
            c0 = Float4.MulAdd(c0, g.X, v);
            c1 = Float4.MulAdd(c1, g.Y, v);
            c2 = Float4.MulAdd(c2, g.Z, v);
            c3 = Float4.MulAdd(c3, g.W, v);
        }
        if (i < m)
        {
            Float4 g = dy[i * n4 + nb], v = x[i * k4 + kb];
            c0 = Float4.MulAdd(c0, g.X, v);
            c1 = Float4.MulAdd(c1, g.Y, v);
            c2 = Float4.MulAdd(c2, g.Z, v);
            c3 = Float4.MulAdd(c3, g.W, v);
        }
        StoreBlock(dw, default, n, k, nb * 4, kb * 4, c0, c1, c2, c3, Epilogue.None);
    }

    static Float4 Add(Float4 c, float x, float y, float z, float w) => new(c.X + x, c.Y + y, c.Z + z, c.W + w);

    /// <summary>c + (a·w0, a·w1, a·w2, a·w3): one row of X against four rows of W.</summary>
    static Float4 DotRow(Float4 c, Float4 a, Float4 w0, Float4 w1, Float4 w2, Float4 w3) =>
        Add(c, Float4.Dot(a, w0), Float4.Dot(a, w1), Float4.Dot(a, w2), Float4.Dot(a, w3));

    /// <summary>c + Σ_q a[q]·wq: one row of dY against four rows of W.</summary>
    static Float4 Combine(Float4 c, Float4 a, Float4 w0, Float4 w1, Float4 w2, Float4 w3) =>
        Float4.MulAdd(Float4.MulAdd(Float4.MulAdd(Float4.MulAdd(c, a.X, w0), a.Y, w1), a.Z, w2), a.W, w3);

    static void StoreBlock(ArrayView<float> c, ArrayView<float> aux, int rows, int cols, int r0, int c0,
        Float4 row0, Float4 row1, Float4 row2, Float4 row3, Epilogue epilogue)
    {
        StoreRow(c, aux, rows, cols, r0, c0, row0, epilogue);
        StoreRow(c, aux, rows, cols, r0 + 1, c0, row1, epilogue);
        StoreRow(c, aux, rows, cols, r0 + 2, c0, row2, epilogue);
        StoreRow(c, aux, rows, cols, r0 + 3, c0, row3, epilogue);
    }

    static void StoreRow(ArrayView<float> c, ArrayView<float> aux, int rows, int cols, int r, int c0, Float4 v, Epilogue epilogue)
    {
        if (r >= rows) return;
        for (int q = 0; q < 4 && c0 + q < cols; q++)
            c[r * cols + c0 + q] = epilogue.Apply(v.Get(q), aux, r, c0 + q, cols);
    }
}
