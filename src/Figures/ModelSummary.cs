using System.Globalization;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Figures;

/// <summary>The lab's Figure 1: the table torchsummary.summary(model, (784,)) prints, plus the mult-adds torchinfo adds.</summary>
public static class ModelSummary
{
    const double MB = 1024 * 1024;

    public static IReadOnlyList<string> Lines(Architecture a)
    {
        string rule = new('-', 64), doubleRule = new('=', 64);
        static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
        static string F(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
        var lines = new List<string> { rule, $"{"Layer (type)",20}  {"Output Shape",25} {"Param #",15}", doubleRule };
        for (int i = 0; i < a.Layers.Count; i++)
            lines.Add($"{$"Linear-{i + 1}",20}  {$"[-1, {a.Layers[i].Outputs}]",25} {N(a.Layers[i].ParameterCount),15}");
        // torchsummary's sizes: float32 input, forward and backward activations, parameters; batch of one.
        double input = Architecture.Pixels * 4 / MB;
        double activations = 2.0 * a.Layers.Sum(l => l.Outputs) * 4 / MB;
        double parameters = a.ParameterCount * 4.0 / MB;
        lines.AddRange(
        [
            doubleRule,
            $"Total params: {N(a.ParameterCount)}",
            $"Trainable params: {N(a.ParameterCount)}",
            "Non-trainable params: 0",
            $"Total mult-adds (M): {F(a.MultiplyAddsPerImage / 1e6)}",
            rule,
            $"Input size (MB): {F(input)}",
            $"Forward/backward pass size (MB): {F(activations)}",
            $"Params size (MB): {F(parameters)}",
            $"Estimated Total Size (MB): {F(input + activations + parameters)}",
            rule,
        ]);
        return lines;
    }
}
