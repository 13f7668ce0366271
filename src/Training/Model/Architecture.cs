using GpuAutoencoder.Kernels;

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

/// <summary>Where one layer's weight [out, in] and bias [out] sit in the flat parameter buffer.</summary>
public sealed record LayerSlot(LayerSpec Spec, int WeightOffset, int BiasOffset);

/// <summary>
/// All parameters live in one flat buffer so that Adam is a single launch. Each tensor starts on a
/// 64-float boundary: the kernels read rows as Float4, and a GPU prefers 256-byte aligned rows.
/// The padding is zero and receives zero gradient, so Adam leaves it at zero.
/// </summary>
public sealed class ParameterLayout
{
    const int Alignment = 64;

    public Architecture Architecture { get; }
    public IReadOnlyList<LayerSlot> Slots { get; }
    /// <summary>Length of the flat buffer, padding included.</summary>
    public int Length { get; }

    public ParameterLayout(Architecture architecture)
    {
        Architecture = architecture;
        var slots = new List<LayerSlot>();
        int offset = 0;
        foreach (var layer in architecture.Layers)
        {
            int weight = offset;
            int bias = Align(weight + layer.WeightCount);
            offset = Align(bias + layer.Outputs);
            slots.Add(new LayerSlot(layer, weight, bias));
        }
        Slots = slots;
        Length = offset;
    }

    static int Align(int n) => (n + Alignment - 1) / Alignment * Alignment;

    /// <summary>The tensors in PyTorch's state_dict order: fc1.weight, fc1.bias, …, fc4.bias.</summary>
    public IEnumerable<(string Name, int[] Shape, int Offset, int Length)> Tensors()
    {
        foreach (var s in Slots)
        {
            yield return ($"{s.Spec.Name}.weight", [s.Spec.Outputs, s.Spec.Inputs], s.WeightOffset, s.Spec.WeightCount);
            yield return ($"{s.Spec.Name}.bias", [s.Spec.Outputs], s.BiasOffset, s.Spec.Outputs);
        }
    }

    /// <summary>
    /// PyTorch's nn.Linear initialisation: weights and biases U(−1/√fan_in, 1/√fan_in), drawn
    /// layer by layer, weight before bias, in row-major order, from SplitMix64(seed).
    /// </summary>
    public float[] Initialize(ulong seed)
    {
        var rng = new SplitMix64(seed);
        var flat = new float[Length];
        foreach (var (_, shape, offset, length) in Tensors())
        {
            double bound = 1 / Math.Sqrt(shape.Length == 2 ? shape[1] : FanInOfBias(offset));
            for (int i = 0; i < length; i++) flat[offset + i] = (float)(bound * (2 * rng.NextDouble() - 1));
        }
        return flat;
    }

    int FanInOfBias(int biasOffset) => Slots.First(s => s.BiasOffset == biasOffset).Spec.Inputs;
}
