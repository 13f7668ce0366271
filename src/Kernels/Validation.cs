using System.Text;

namespace GpuAutoencoder.Kernels;

/// <summary>The outcome of comparing a kernel's output with its float64 reference.</summary>
public sealed record ValidationResult(int Count, int Mismatches, double MaxError, string FirstMismatches)
{
    public bool Passed => Mismatches == 0;
}

/// <summary>The validate step of llm.c's dev/cuda: compare element-wise and name the first mismatches.</summary>
public static class Validation
{
    /// <summary>An element passes when |got − ref| ≤ atol + rtol·|ref|; NaN (what outputs are poisoned with) never passes.</summary>
    public static ValidationResult Compare(ReadOnlySpan<float> got, ReadOnlySpan<double> expected, double atol, double rtol)
    {
        if (got.Length != expected.Length)
            return new ValidationResult(got.Length, got.Length, double.PositiveInfinity, $"  length {got.Length}, expected {expected.Length}\n");
        var report = new StringBuilder();
        int bad = 0;
        double worst = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double err = Math.Abs(got[i] - expected[i]);
            if (double.IsNaN(err)) err = double.PositiveInfinity;
            worst = Math.Max(worst, err);
            if (err <= atol + rtol * Math.Abs(expected[i])) continue;
            if (bad++ < 5) report.AppendLine($"  [{i}] got {got[i]:R}, expected {expected[i]:R}");
        }
        return new ValidationResult(got.Length, bad, worst, report.ToString());
    }

    /// <summary>
    /// The whole output against its reference as one vector: it passes when ‖got − ref‖₂ ≤
    /// <paramref name="bound"/>·‖ref‖₂ and nothing is NaN. For outputs whose elements may each
    /// legitimately jump (a ReLU that a rounded operand moves across zero) while the whole stays close;
    /// <see cref="ValidationResult.MaxError"/> is then the relative norm of the error.
    /// </summary>
    public static ValidationResult CompareNorm(ReadOnlySpan<float> got, ReadOnlySpan<double> expected, double bound)
    {
        if (got.Length != expected.Length)
            return new ValidationResult(got.Length, got.Length, double.PositiveInfinity, $"  length {got.Length}, expected {expected.Length}\n");
        double error = 0, reference = 0, worst = 0;
        int worstAt = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double diff = got[i] - expected[i];
            if (double.IsNaN(diff)) diff = double.PositiveInfinity;
            error += diff * diff;
            reference += expected[i] * expected[i];
            if (Math.Abs(diff) > worst) (worst, worstAt) = (Math.Abs(diff), i);
        }
        double relative = reference > 0 ? Math.Sqrt(error / reference) : Math.Sqrt(error);
        bool passed = relative <= bound;
        return new ValidationResult(got.Length, passed ? 0 : 1, relative, passed ? "" :
            $"  relative L2 error {relative:E2}, over {bound:E2}; the largest element error at [{worstAt}]: got {got[worstAt]:R}, expected {expected[worstAt]:R}\n");
    }

    /// <summary>A buffer of NaN: outputs are filled with it before a run so that an unwritten element cannot pass.</summary>
    public static MemoryBuffer1D<float, Stride1D.Dense> Poisoned(Accelerator accelerator, int length)
    {
        var b = accelerator.Allocate1D<float>(Math.Max(1, length));
        b.MemSet(0xFF); // every byte 0xFF is a NaN in every element
        return b;
    }

    public static float[] RandomFloats(Random rng, int n, float lo = -1f, float hi = 1f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng.NextSingle();
        return a;
    }
}
