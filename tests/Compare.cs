using System.Text;

namespace GpuAutoencoder.Tests;

/// <summary>Element-wise comparison against a float64 reference that names the first mismatches, as llm.c's validate step does.</summary>
public static class Compare
{
    /// <summary>Fails unless |got − ref| ≤ atol + rtol·|ref| for every element; NaN (the poison) never passes.</summary>
    public static void Close(ReadOnlySpan<float> got, ReadOnlySpan<double> expected, double atol, double rtol, string what)
    {
        Assert.That(got.Length, Is.EqualTo(expected.Length), $"{what}: length");
        var report = new StringBuilder();
        int bad = 0;
        double worst = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double err = Math.Abs(got[i] - expected[i]);
            worst = Math.Max(worst, double.IsNaN(err) ? double.PositiveInfinity : err);
            if (err <= atol + rtol * Math.Abs(expected[i])) continue;
            if (bad++ < 5) report.AppendLine($"  [{i}] got {got[i]:R}, expected {expected[i]:R}");
        }
        if (bad > 0)
            Assert.Fail($"{what}: {bad} of {got.Length} elements mismatch (max error {worst:E2}); first:\n{report}");
    }

    public static void Close(ReadOnlySpan<float> got, ReadOnlySpan<float> expected, double atol, double rtol, string what)
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        Close(got, e, atol, rtol, what);
    }

    public static float[] Random(Random rng, int n, float lo = -1f, float hi = 1f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng.NextSingle();
        return a;
    }
}
