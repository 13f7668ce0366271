using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Training;

/// <summary>
/// Views into the flat parameter buffer and the per-layer activation buffers, and the forward pass
/// over them: shared by <see cref="DeviceTrainer"/> and <see cref="DeviceModel"/>, so that training
/// and inference run exactly the same launches.
/// </summary>
internal static class DeviceLayers
{
    /// <summary>The first <paramref name="rows"/> rows of a [batch, width] buffer.</summary>
    public static ArrayView<float> Rows(MemoryBuffer1D<float, Stride1D.Dense> buffer, int rows, int width) =>
        buffer.View.SubView(0, (long)rows * width);

    public static ArrayView<float> Weight(ArrayView<float> flat, LayerSlot s) => flat.SubView(s.WeightOffset, s.Spec.WeightCount);
    public static ArrayView<float> Bias(ArrayView<float> flat, LayerSlot s) => flat.SubView(s.BiasOffset, s.Spec.Outputs);

    /// <summary>activations[l + 1] = act(activations[l]·Wₗᵀ + bₗ) for the layers l in [from, to).</summary>
    public static void Forward(DeviceKernels kernels, ParameterLayout layout, ArrayView<float> parameters,
        MemoryBuffer1D<float, Stride1D.Dense>[] activations, int rows, int from, int to)
    {
        for (int l = from; l < to; l++)
        {
            var s = layout.Slots[l];
            kernels.LinearForward(Rows(activations[l], rows, s.Spec.Inputs), Weight(parameters, s), Bias(parameters, s),
                Rows(activations[l + 1], rows, s.Spec.Outputs), new(rows, s.Spec.Outputs, s.Spec.Inputs), s.Spec.Activation);
        }
    }
}
