using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Tests;

/// <summary>NUnit face of <see cref="Validation"/>: fails with the first mismatches.</summary>
public static class Compare
{
    public static void Close(ReadOnlySpan<float> got, ReadOnlySpan<double> expected, double atol, double rtol, string what)
    {
        var r = Validation.Compare(got, expected, atol, rtol);
        if (!r.Passed)
            Assert.Fail($"{what}: {r.Mismatches} of {r.Count} elements mismatch (max error {r.MaxError:E2}); first:\n{r.FirstMismatches}");
    }

    public static float[] Random(Random rng, int n, float lo = -1f, float hi = 1f) => Validation.RandomFloats(rng, n, lo, hi);
}
