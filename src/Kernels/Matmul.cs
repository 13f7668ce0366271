namespace GpuAutoencoder.Kernels;

/// <summary>
/// The three matrix products of a linear layer's training step, all on row-major buffers with
/// weights stored [out, in] as PyTorch stores them:
/// <list type="bullet">
/// <item><b>Forward</b>: Y[M,N] = epilogue(X[M,K] · W[N,K]ᵀ), bias and activation fused.</item>
/// <item><b>BackwardInput</b>: dX[M,K] = epilogue(dY[M,N] · W[N,K]), the ReLU mask fused.</item>
/// <item><b>BackwardWeight</b>: dW[N,K] = dY[M,N]ᵀ · X[M,K].</item>
/// </list>
/// In all three, M is the batch, N a layer's outputs and K its inputs.
/// </summary>
public enum MatmulShape
{
    Forward,
    BackwardInput,
    BackwardWeight,
}

/// <summary>Float64 references: the ground truth every schedule is validated against.</summary>
public static class MatmulReference
{
    public static double[] Forward(float[] x, float[] w, float[] bias, int m, int n, int k, Activation activation)
    {
        var y = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = bias[j];
                for (int p = 0; p < k; p++) s += (double)x[i * k + p] * w[j * k + p];
                y[i * n + j] = activation switch
                {
                    Activation.Relu => Math.Max(0, s),
                    Activation.Sigmoid => 1 / (1 + Math.Exp(-s)),
                    _ => s,
                };
            }
        return y;
    }

    /// <param name="mask">The previous layer's ReLU output [M,K], or null for no mask.</param>
    public static double[] BackwardInput(float[] dy, float[] w, float[]? mask, int m, int n, int k)
    {
        var dx = new double[m * k];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
            {
                if (mask != null && !(mask[i * k + p] > 0)) continue;
                double s = 0;
                for (int j = 0; j < n; j++) s += (double)dy[i * n + j] * w[j * k + p];
                dx[i * k + p] = s;
            }
        return dx;
    }

    public static double[] BackwardWeight(float[] dy, float[] x, int m, int n, int k)
    {
        var dw = new double[n * k];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double g = dy[i * n + j];
                if (g == 0) continue;
                for (int p = 0; p < k; p++) dw[j * k + p] += g * x[i * k + p];
            }
        return dw;
    }
}

/// <summary>
/// How a matrix product reads its operands: C[i,j] = Σ_p A[i·AsI + p·AsP] · B[p·BsP + j·BsJ],
/// with C [Rows, Cols] row-major and the sum running over Depth. One strided description covers
/// all three <see cref="MatmulShape"/>s, which is what lets version 1 be a single kernel.
/// </summary>
public readonly struct StridedProduct(int rows, int cols, int depth, int asI, int asP, int bsP, int bsJ)
{
    public readonly int Rows = rows, Cols = cols, Depth = depth;
    public readonly int AsI = asI, AsP = asP, BsP = bsP, BsJ = bsJ;

    /// <summary>
    /// How many elements of A and of B the product reads: one past the largest index it forms, which for
    /// the three shapes is X[m,k]/W[n,k] (Forward), dY[m,n]/W[n,k] (BackwardInput), dY[m,n]/X[m,k]
    /// (BackwardWeight). Nothing is read when the output or the depth is empty.
    /// </summary>
    public long ALength => Rows == 0 || Depth == 0 ? 0 : (long)(Rows - 1) * AsI + (long)(Depth - 1) * AsP + 1;
    public long BLength => Cols == 0 || Depth == 0 ? 0 : (long)(Depth - 1) * BsP + (long)(Cols - 1) * BsJ + 1;

    public static StridedProduct For(MatmulShape shape, int m, int n, int k) => shape switch
    {
        // Y[m,n] = Σ_k X[m,k]·W[n,k]
        MatmulShape.Forward => new(m, n, k, k, 1, 1, k),
        // dX[m,k] = Σ_n dY[m,n]·W[n,k]
        MatmulShape.BackwardInput => new(m, k, n, n, 1, k, 1),
        // dW[n,k] = Σ_m dY[m,n]·X[m,k]
        _ => new(n, k, m, 1, n, k, 1),
    };
}
