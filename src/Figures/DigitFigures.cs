using System.Globalization;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Figures;

/// <summary>The lab's digit figures, computed with a <see cref="DeviceModel"/> and laid out as <see cref="GridFigure"/>s.</summary>
public static class DigitFigures
{
    const int Pixels = Architecture.Pixels;

    /// <summary>The chosen images of a set, scaled to [0, 1] exactly as the gather kernel scales them.</summary>
    public static float[] Images(MnistSet set, IReadOnlyList<int> indices)
    {
        var x = new float[indices.Count * Pixels];
        for (int r = 0; r < indices.Count; r++)
        {
            CheckIndex(set, indices[r]);
            for (int p = 0; p < Pixels; p++) x[r * Pixels + p] = set.Images[indices[r] * Pixels + p] / 255f;
        }
        return x;
    }

    static void CheckIndex(MnistSet set, int index)
    {
        if (index < 0 || index >= set.Count)
            throw new ArgumentException($"image index {index} is outside the split's 0..{set.Count - 1}");
    }

    static float[] Row(float[] images, int r) => images.AsSpan(r * Pixels, Pixels).ToArray();

    static double Mse(float[] a, float[] b, int r)
    {
        double s = 0;
        for (int p = r * Pixels; p < (r + 1) * Pixels; p++) s += ((double)a[p] - b[p]) * ((double)a[p] - b[p]);
        return s / Pixels;
    }

    static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    static string Name(MnistSet set, int index) => F($"#{index}: digit {set.Labels[index]}");

    /// <summary>Input | reconstruction pairs, <paramref name="perRow"/> pairs to a row.</summary>
    public static GridFigure Reconstruction(DeviceModel model, MnistSet set, string split, IReadOnlyList<int> indices, string modelName, int perRow = 5)
    {
        var x = Images(set, indices);
        var y = model.Reconstruct(x);
        var panels = indices.SelectMany((index, r) => new[]
        {
            new Panel(Row(x, r), Name(set, index)),
            new Panel(Row(y, r), F($"MSE {Mse(x, y, r):F4}")),
        }).ToList();
        int pairs = Math.Min(perRow, indices.Count);
        return new GridFigure(
            F($"Reconstructions of {split} images (z={model.Bottleneck}, {modelName})"),
            Chunk(panels, 2 * pairs), 2,
            Enumerable.Repeat(new[] { "input", "output" }, pairs).SelectMany(h => h).ToList(),
            F($"Each pair: a {split} image (index in the split, digit) and the autoencoder's reconstruction of it, with the per-image MSE over its {Pixels} pixels in [0, 1]. Pixels are upscaled by nearest neighbour."));
    }

    /// <summary>Input | noisy | output triples, <paramref name="perRow"/> to a row.</summary>
    public static GridFigure Denoising(DeviceModel model, MnistSet set, string split, IReadOnlyList<int> indices, string modelName,
        NoiseSettings settings, int perRow = 3)
    {
        var (kind, level, seed) = (settings.Kind, settings.Level, settings.Seed);
        var x = Images(set, indices);
        var noisy = Noise.Add(x, kind, level, seed);
        var y = model.Reconstruct(noisy);
        var shown = Noise.MinMaxRescale(noisy);
        var panels = indices.SelectMany((index, r) =>
        {
            var raw = noisy.AsSpan(r * Pixels, Pixels);
            float lo = float.MaxValue, hi = float.MinValue;
            foreach (var v in raw) (lo, hi) = (Math.Min(lo, v), Math.Max(hi, v));
            return new[]
            {
                new Panel(Row(x, r), Name(set, index)),
                new Panel(Row(shown, r), F($"[{lo:F2}, {hi:F2}]")),
                new Panel(Row(y, r), F($"MSE {Mse(x, y, r):F4}")),
            };
        }).ToList();
        int triples = Math.Min(perRow, indices.Count);
        string noise = kind == NoiseKind.Uniform ? F($"+ {level:G3}·U[0,1)") : F($"+ N(0, {level:G3}²)");
        return new GridFigure(
            F($"Denoising {split} images {noise} (z={model.Bottleneck}, {modelName})"),
            Chunk(panels, 3 * triples), 3,
            Enumerable.Repeat(new[] { "input", "noisy", "output" }, triples).SelectMany(h => h).ToList(),
            F($"Noise {noise} per pixel (seed {seed}), not clipped, is what the model sees. The noisy image is shown min-max rescaled to [0, 1] per image, as matplotlib's imshow did for the lab; its label is the raw range. The output's MSE is against the clean input."));
    }

    /// <summary>One row per pair: image A, the decoder's outputs at <paramref name="steps"/> evenly spaced points of the line from A's code to B's (both ends included), image B.</summary>
    public static GridFigure Interpolation(DeviceModel model, MnistSet set, string split, IReadOnlyList<(int A, int B)> pairs, string modelName, int steps = 8)
    {
        if (steps < 2) throw new ArgumentException($"steps: must be at least 2 (the two ends), got {steps}");
        if (pairs.Count == 0) throw new ArgumentException("pairs: no pairs given");
        int z = model.Bottleneck;
        var ends = Images(set, pairs.SelectMany(p => new[] { p.A, p.B }).ToList());
        var codes = model.Encode(ends);
        var line = new float[pairs.Count * steps * z];
        for (int r = 0; r < pairs.Count; r++)
            for (int s = 0; s < steps; s++)
            {
                float t = s / (float)(steps - 1);
                for (int j = 0; j < z; j++)
                {
                    float a = codes[(2 * r) * z + j], b = codes[(2 * r + 1) * z + j];
                    // Written so that t = 0 and t = 1 give the two codes bit for bit.
                    line[(r * steps + s) * z + j] = (1 - t) * a + t * b;
                }
            }
        var decoded = model.Decode(line);
        var rows = new List<IReadOnlyList<Panel>>();
        for (int r = 0; r < pairs.Count; r++)
        {
            var row = new List<Panel> { new(Row(ends, 2 * r), F($"A {Name(set, pairs[r].A)}")) };
            for (int s = 0; s < steps; s++) row.Add(new Panel(Row(decoded, r * steps + s), F($"t = {s / (double)(steps - 1):0.##}")));
            row.Add(new Panel(Row(ends, 2 * r + 1), F($"B {Name(set, pairs[r].B)}")));
            rows.Add(row);
        }
        return new GridFigure(
            F($"Interpolating between bottleneck codes (z={z}, {modelName})"),
            rows, steps + 2, null,
            F($"Each row: {split} image A, the decoder's output at {steps} evenly spaced points t of the straight line (1 − t)·code(A) + t·code(B) in the bottleneck, and image B. t = 0 and t = 1 are the reconstructions of A and B."));
    }

    static List<IReadOnlyList<Panel>> Chunk(List<Panel> panels, int perRow) =>
        panels.Chunk(perRow).Select(c => (IReadOnlyList<Panel>)c).ToList();
}
