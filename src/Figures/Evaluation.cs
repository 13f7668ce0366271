namespace GpuAutoencoder.Figures;

/// <summary>What <c>gpuae evaluate</c> reports about a model on one split.</summary>
public sealed record Evaluation(
    int Images,
    /// <summary>PyTorch's MSELoss with reduction='mean': the mean over every pixel of every image.</summary>
    double Mse,
    /// <summary>The mean over images of 10·log10(1 / MSE_image), the pixel range being [0, 1].</summary>
    double MeanPsnrDb,
    /// <summary>Mean MSE of the images of each digit 0–9 (NaN where a digit has no image).</summary>
    double[] PerDigitMse,
    int[] PerDigitCount,
    /// <summary>Per bottleneck unit: whether its ReLU output is non-zero for at least one image.</summary>
    bool[] ActiveUnits)
{
    /// <summary>A perfect reconstruction has infinite PSNR; capping it keeps the mean finite.</summary>
    public const double PsnrCapDb = 100;

    public int ActiveUnitCount => ActiveUnits.Count(a => a);

    /// <summary>The bottleneck units whose ReLU output is zero for every image, by number.</summary>
    public IReadOnlyList<int> DeadUnits => [.. Enumerable.Range(0, ActiveUnits.Length).Where(u => !ActiveUnits[u])];

    /// <param name="squaredErrors">Each image's sum of squared errors over its pixels.</param>
    /// <param name="codes">Each image's bottleneck code, [images, bottleneck].</param>
    public static Evaluation From(ReadOnlySpan<float> squaredErrors, ReadOnlySpan<float> codes, ReadOnlySpan<byte> labels, int pixels)
    {
        int n = squaredErrors.Length;
        if (n == 0 || labels.Length != n || codes.Length % n != 0)
            throw new ArgumentException($"{n} squared errors, {labels.Length} labels and {codes.Length} code values do not describe the same images");
        int z = codes.Length / n;
        double total = 0, psnr = 0;
        var digitSums = new double[10];
        var digitCounts = new int[10];
        for (int i = 0; i < n; i++)
        {
            double mse = (double)squaredErrors[i] / pixels;
            total += squaredErrors[i];
            psnr += mse > 0 ? Math.Min(PsnrCapDb, -10 * Math.Log10(mse)) : PsnrCapDb;
            digitSums[labels[i]] += mse;
            digitCounts[labels[i]]++;
        }
        var active = new bool[z];
        for (int i = 0; i < codes.Length; i++)
            if (codes[i] != 0) active[i % z] = true;
        var perDigit = digitSums.Select((s, d) => digitCounts[d] > 0 ? s / digitCounts[d] : double.NaN).ToArray();
        return new Evaluation(n, total / ((double)n * pixels), psnr / n, perDigit, digitCounts, active);
    }
}
