using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.Training.Model;

/// <summary>One nn.Linear of the autoencoder and the activation after it.</summary>
public sealed record LayerSpec(string Name, int Inputs, int Outputs, Activation Activation)
{
    public int WeightCount => Inputs * Outputs;
    public int ParameterCount => WeightCount + Outputs;
}

/// <summary>
/// The lab's autoencoder, 784 → 392 → z → 392 → 784, ReLU after the first three layers and a
/// Sigmoid after the last, with PyTorch's layer names so that weights carry over both ways.
/// </summary>
public sealed class Architecture
{
    /// <summary>An MNIST image is 28×28; its 784 pixels are the model's input and output width. The one definition of both.</summary>
    public const int ImageSide = 28, Pixels = ImageSide * ImageSide;
    public const int Hidden = 392;

    public int Bottleneck { get; }
    public IReadOnlyList<LayerSpec> Layers { get; }
    /// <summary>
    /// The width of every activation, the input first and then each layer's output: 784, 392, z,
    /// 392, 784. Activation l is layer l's input and layer l − 1's output.
    /// </summary>
    public IReadOnlyList<int> Widths { get; }
    /// <summary>The parameters PyTorch counts (622,504 for z = 8); the device buffer adds alignment padding.</summary>
    public int ParameterCount => Layers.Sum(l => l.ParameterCount);

    /// <summary>
    /// The encoder is layers [0, EncoderLayers) and the decoder the rest, so activation EncoderLayers is
    /// the code [rows, z]. Inference, export and the figures all split the model here.
    /// </summary>
    public const int EncoderLayers = 2;

    /// <summary>The tensor whose shape carries the bottleneck: the encoder's last weight, [z, 392].</summary>
    public const string BottleneckTensor = "fc2.weight";

    /// <summary>
    /// The bottleneck z of a state_dict, read from <see cref="BottleneckTensor"/>; null unless that tensor
    /// is 2-D [z, 392] with z ≥ 1. A shape [N, 0] holds no bytes to vouch for N, and a layout built from
    /// an unvouched N could be any size, so it is not believed.
    /// </summary>
    public static int? BottleneckOf(IReadOnlyDictionary<string, Tensor> tensors) =>
        tensors.TryGetValue(BottleneckTensor, out var t) && t.Shape is [>= 1 and var z, Hidden] ? z : null;

    public Architecture(int bottleneck = 8)
    {
        if (bottleneck < 1) throw new ArgumentOutOfRangeException(nameof(bottleneck), "the bottleneck needs at least one unit");
        Bottleneck = bottleneck;
        Layers =
        [
            new("fc1", Pixels, Hidden, Activation.Relu),
            new("fc2", Hidden, bottleneck, Activation.Relu),
            new("fc3", bottleneck, Hidden, Activation.Relu),
            new("fc4", Hidden, Pixels, Activation.Sigmoid),
        ];
        Widths = [Pixels, .. Layers.Select(l => l.Outputs)];
    }

    /// <summary>Multiply-adds of one image's forward pass.</summary>
    public long MultiplyAddsPerImage => Layers.Sum(l => (long)l.WeightCount);

    /// <summary>
    /// Floating-point operations of one training step per image: the forward product, the weight
    /// gradient, and the input gradient of every layer but the first (2 FLOP per multiply-add).
    /// </summary>
    public long TrainingFlopsPerImage =>
        2 * (3 * MultiplyAddsPerImage - Layers[0].WeightCount);
}
