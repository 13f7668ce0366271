using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>The one conversion between the padded flat buffer and PyTorch's state_dict tensors, which every file format goes through.</summary>
public class ParameterLayoutTests
{
    sealed class Refused(string message) : Exception(message);

    /// <summary>A flat buffer with random values in every tensor and zero padding, as the trainer keeps it.</summary>
    static (ParameterLayout Layout, float[] Flat) Random(int z)
    {
        var layout = new ParameterLayout(new Architecture(z));
        var rng = TestSeed.Random();
        var flat = new float[layout.Length];
        foreach (var s in layout.Slots)
        {
            for (int i = 0; i < s.Spec.WeightCount; i++) flat[s.WeightOffset + i] = (float)(rng.NextDouble() * 2 - 1);
            for (int i = 0; i < s.Spec.Outputs; i++) flat[s.BiasOffset + i] = (float)(rng.NextDouble() * 2 - 1);
        }
        return (layout, flat);
    }

    [TestCase(8)]
    [TestCase(3)]
    public void TensorsArePyTorchsStateDictAndComeBackBitForBit(int z)
    {
        var (layout, flat) = Random(z);
        var tensors = layout.ToTensors(flat, "adam_m.").ToList();

        Assert.That(tensors.Select(t => (t.Name, string.Join(",", t.Shape))), Is.EqualTo(new[]
        {
            ("adam_m.fc1.weight", "392,784"), ("adam_m.fc1.bias", "392"),
            ("adam_m.fc2.weight", $"{z},392"), ("adam_m.fc2.bias", $"{z}"),
            ("adam_m.fc3.weight", $"392,{z}"), ("adam_m.fc3.bias", "392"),
            ("adam_m.fc4.weight", "784,392"), ("adam_m.fc4.bias", "784"),
        }), TestSeed.Describe());
        // Row-major [out, in]: fc3.weight[o, i] is layer 3's weight from input i to output o.
        var fc3 = layout.Slots[2];
        Assert.That(tensors[4].Data[5 * z + 1], Is.EqualTo(flat[fc3.WeightOffset + 5 * fc3.Spec.Inputs + 1]), TestSeed.Describe());
        Assert.That(tensors.Sum(t => t.Data.Length), Is.EqualTo(layout.Architecture.ParameterCount), "the padding is not written");

        var back = layout.FromTensors(tensors.ToDictionary(t => t.Name), what => new Refused(what), "adam_m.");
        Assert.That(back, Is.EqualTo(flat), TestSeed.Describe());
    }

    [Test]
    public void EachRefusalNamesTheTensorThroughTheReadersOwnError()
    {
        var (layout, flat) = Random(8);
        Dictionary<string, Tensor> Edited(Func<Tensor, Tensor?> edit) =>
            layout.ToTensors(flat).Select(edit).OfType<Tensor>().ToDictionary(t => t.Name);
        string Refusal(Dictionary<string, Tensor> tensors, bool finite) =>
            Assert.Throws<Refused>(() => layout.FromTensors(tensors, what => new Refused(what), finite: finite))!.Message;

        Assert.That(Refusal(Edited(t => t.Name == "fc3.bias" ? null : t), false), Is.EqualTo("missing tensor fc3.bias"));
        Assert.That(Refusal(Edited(t => t.Name == "fc1.bias" ? t with { Shape = [2, 196] } : t), false),
            Is.EqualTo("tensor fc1.bias has shape [2,196], expected [392]"));
        var nan = Edited(t => t.Name == "fc4.weight" ? t with { Data = t.Data.Select((v, i) => i == 7 ? float.NaN : v).ToArray() } : t);
        Assert.That(Refusal(nan, true), Is.EqualTo("tensor fc4.weight holds a non-finite value (NaN) at element 7"));
        Assert.That(layout.FromTensors(nan, what => new Refused(what))[layout.Slots[3].WeightOffset + 7], Is.NaN,
            "a checkpoint's moments are taken as they are unless finiteness is asked for");
    }

    [Test]
    public void TheBottleneckIsBelievedOnlyFromATwoDimensionalFc2WeightWithData()
    {
        int? Of(params int[] shape) => Architecture.BottleneckOf(new Dictionary<string, Tensor>
        {
            ["fc2.weight"] = new("fc2.weight", shape, new float[shape.Aggregate(1, (n, d) => n * d)]),
        });
        Assert.That(Of(5, 392), Is.EqualTo(5));
        Assert.That(Of(1, 392), Is.EqualTo(1));
        Assert.That(Of(0, 392), Is.Null, "[0, 392] holds no bytes to vouch for the bottleneck");
        Assert.That(Of(5, 391), Is.Null);
        Assert.That(Of(392, 5), Is.Null);
        Assert.That(Of(5 * 392), Is.Null);
        Assert.That(Of(1, 5, 392), Is.Null);
        Assert.That(Architecture.BottleneckOf(new Dictionary<string, Tensor>()), Is.Null);
    }
}
