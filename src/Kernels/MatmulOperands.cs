namespace GpuAutoencoder.Kernels;

/// <summary>
/// The views of one matrix product C = A·B (each read as its <see cref="MatmulShape"/> says), and
/// <paramref name="Aux"/>, the epilogue's operand: the bias, the ReLU mask, or any view when the
/// epilogue reads none.
/// </summary>
public readonly record struct MatmulOperands(ArrayView<float> A, ArrayView<float> B, ArrayView<float> C, ArrayView<float> Aux);
