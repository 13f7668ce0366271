using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.Training.Model;

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
    /// The state_dict tensors of a flat buffer, padding left out, each name after <paramref name="prefix"/>
    /// (a checkpoint keeps Adam's moments as adam_m.fc1.weight, …). Every file format writes these.
    /// </summary>
    public IEnumerable<Tensor> ToTensors(float[] flat, string prefix = "") =>
        Tensors().Select(t => new Tensor(prefix + t.Name, t.Shape, flat.AsSpan(t.Offset, t.Length).ToArray()));

    /// <summary>
    /// The flat buffer, padding zero, of a state_dict read from any file format. Each of this layout's
    /// tensors (named after <paramref name="prefix"/>) must be there with its shape, and, when
    /// <paramref name="finite"/>, hold no NaN or infinity; the first that is not is reported through
    /// <paramref name="error"/>, which makes the reader's own exception. Tensors beyond the layout's are
    /// the caller's to judge.
    /// </summary>
    public float[] FromTensors(IReadOnlyDictionary<string, Tensor> tensors, Func<string, Exception> error, string prefix = "", bool finite = false)
    {
        var flat = new float[Length];
        foreach (var (tensorName, shape, offset, _) in Tensors())
        {
            string name = prefix + tensorName;
            if (!tensors.TryGetValue(name, out var t)) throw error($"missing tensor {name}");
            if (!t.Shape.SequenceEqual(shape))
                throw error($"tensor {name} has shape [{string.Join(",", t.Shape)}], expected [{string.Join(",", shape)}]");
            int bad = finite ? Array.FindIndex(t.Data, v => !float.IsFinite(v)) : -1;
            if (bad >= 0) throw error($"tensor {name} holds a non-finite value ({t.Data[bad]}) at element {bad}");
            t.Data.CopyTo(flat, offset);
        }
        return flat;
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
