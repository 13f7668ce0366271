using System.Runtime.CompilerServices;

namespace GpuAutoencoder.Kernels;

/// <summary>The nonlinearity fused into a forward matrix product.</summary>
public enum Activation
{
    Identity = 0,
    Relu = 1,
    Sigmoid = 2,
}

/// <summary>What a matrix-product kernel does to each accumulated element before storing it.</summary>
public enum EpilogueKind
{
    /// <summary>Store the sum as it is (dW = dYᵀ·X).</summary>
    None = 0,
    /// <summary>Add the bias of the output column, then apply the activation (Y = act(X·Wᵀ + b)).</summary>
    BiasActivation = 1,
    /// <summary>Zero the element where the previous layer's ReLU output was zero (dX = (dY·W) ⊙ [H &gt; 0]).</summary>
    ReluMask = 2,
}

/// <summary>
/// The epilogue, as plain integers so that it travels into a kernel as one small struct.
/// Every matrix-product schedule calls <see cref="Apply"/>, so they cannot disagree about it.
/// </summary>
public readonly struct Epilogue(EpilogueKind kind, Activation activation)
{
    public readonly int Kind = (int)kind;
    public readonly int Activation = (int)activation;

    public static Epilogue None => new(EpilogueKind.None, Kernels.Activation.Identity);
    public static Epilogue ReluMask => new(EpilogueKind.ReluMask, Kernels.Activation.Identity);
    public static Epilogue Bias(Activation activation) => new(EpilogueKind.BiasActivation, activation);

    /// <param name="sum">The accumulated dot product for output (row, col).</param>
    /// <param name="aux">The bias for BiasActivation (indexed by col), the forward activation for ReluMask (indexed row·cols + col).</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Apply(float sum, ArrayView<float> aux, int row, int col, int cols)
    {
        if (Kind == (int)EpilogueKind.BiasActivation)
        {
            float z = sum + aux[col];
            if (Activation == (int)Kernels.Activation.Relu) return z > 0f ? z : 0f;
            if (Activation == (int)Kernels.Activation.Sigmoid) return 1f / (1f + MathF.Exp(-z));
            return z;
        }
        if (Kind == (int)EpilogueKind.ReluMask)
            return aux[row * cols + col] > 0f ? sum : 0f;
        return sum;
    }
}
