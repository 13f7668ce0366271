namespace GpuAutoencoder.Kernels;

/// <summary>
/// Version 1: one output element per thread, any sizes, any alignment. Slow, but the simplest
/// correct kernel, and the fallback when a row length is not a multiple of four.
/// </summary>
public static class MatmulNaive
{
    public static void Kernel(Index2D index, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c,
        ArrayView<float> aux, StridedProduct s, Epilogue epilogue)
    {
        int j = index.X, i = index.Y;
        if (i >= s.Rows || j >= s.Cols) return;
        float sum = 0f;
        for (int p = 0; p < s.Depth; p++)
            sum += a[i * s.AsI + p * s.AsP] * b[p * s.BsP + j * s.BsJ];
        c[i * s.Cols + j] = epilogue.Apply(sum, aux, i, j, s.Cols);
    }
}
