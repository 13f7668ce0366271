using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Figures;

public enum NoiseKind { Uniform, Gaussian }

/// <summary>Which noise, how strong (the uniform's scale or the Gaussian's σ), and the seed it is drawn from.</summary>
public sealed record NoiseSettings(NoiseKind Kind, double Level, ulong Seed);

/// <summary>The corruption of the denoising figure, drawn from SplitMix64 so a seed gives the same noise everywhere.</summary>
public static class Noise
{
    /// <summary>
    /// x + level·U[0, 1) (the lab's noise) or x + N(0, level²), per pixel, without clipping: the
    /// lab fed the unclipped sum to the model, so values may leave [0, 1].
    /// </summary>
    public static float[] Add(float[] images, NoiseKind kind, double level, ulong seed)
    {
        if (!double.IsFinite(level) || level < 0) throw new ArgumentException($"level: must be a finite number of 0 or more, got {level}");
        var rng = new SplitMix64(seed);
        var noisy = new float[images.Length];
        for (int i = 0; i < images.Length; i++)
            noisy[i] = (float)(images[i] + level * (kind == NoiseKind.Uniform ? rng.NextDouble() : StandardNormal(rng)));
        return noisy;
    }

    /// <summary>Box–Muller; 1 − u keeps the logarithm's argument in (0, 1].</summary>
    static double StandardNormal(SplitMix64 rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>Each image stretched to [0, 1] by its own minimum and maximum, as matplotlib's imshow shows it by default.</summary>
    public static float[] MinMaxRescale(float[] images, int pixels = Architecture.Pixels)
    {
        var shown = new float[images.Length];
        for (int start = 0; start < images.Length; start += pixels)
        {
            var img = images.AsSpan(start, pixels);
            float lo = float.MaxValue, hi = float.MinValue;
            foreach (var v in img) (lo, hi) = (Math.Min(lo, v), Math.Max(hi, v));
            for (int p = 0; p < pixels; p++) shown[start + p] = hi > lo ? (img[p] - lo) / (hi - lo) : 0;
        }
        return shown;
    }
}
