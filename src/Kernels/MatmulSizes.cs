namespace GpuAutoencoder.Kernels;

/// <summary>
/// The sizes of a linear layer's products over a batch: <paramref name="M"/> rows, <paramref name="N"/>
/// outputs, <paramref name="K"/> inputs, so that Y[M,N] = X[M,K]·W[N,K]ᵀ whichever product of the layer runs.
/// </summary>
public readonly record struct MatmulSizes(int M, int N, int K);
