using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Training.Diagnostics;

/// <summary>One line of the self-test: a kernel, in one schedule, at one size, against its float64 reference.</summary>
public sealed record SelfTestRow(string Kernel, string Schedule, string Shape, double MaxError, bool Passed, string Detail);

/// <summary>
/// What a user runs on a new machine before trusting it: every kernel in every schedule the
/// accelerator can run, on fresh random inputs and poisoned outputs, and one whole training step,
/// each against the float64 reference.
/// </summary>
public static class SelfTest
{
    /// <summary>The inputs' seed unless one is given: fixed, so that two runs on one machine check the same numbers.</summary>
    public const int DefaultSeed = 1;

    /// <summary>Every row; a failed row names <paramref name="seed"/>, so its inputs can be drawn again.</summary>
    /// <param name="precision">At <see cref="Precision.Tf32"/> only the GPU schedule is checked, with every product on
    /// the tensor cores; the caller makes sure the accelerator can run it (<see cref="Precisions.Refusal"/>).</param>
    public static IEnumerable<SelfTestRow> Run(Accelerator accelerator, int seed = DefaultSeed, Precision precision = Precision.Fp32)
    {
        var rng = new Random(seed);
        if (precision == Precision.Tf32)
        {
            using var tf32 = new DeviceKernels(accelerator, Schedule.Gpu, Precision.Tf32);
            foreach (var row in Rows(tf32, rng))
                yield return row.Passed ? row : row with { Detail = $"{row.Detail}(inputs drawn from seed {seed})" };
            yield break;
        }
        // The tiled schedule needs whole 16×16 groups, which the fast CPU device does not have.
        var schedules = accelerator.AcceleratorType == AcceleratorType.CPU
            ? new[] { Schedule.Cpu }
            : new[] { Schedule.Gpu, Schedule.Cpu };
        foreach (var schedule in schedules)
        {
            using var kernels = new DeviceKernels(accelerator, schedule);
            foreach (var row in Rows(kernels, rng))
                yield return row.Passed ? row : row with { Detail = $"{row.Detail}(inputs drawn from seed {seed})" };
        }
    }

    /// <summary>
    /// The rows of one schedule: every kernel with exactly the launch shapes and matrix-product
    /// version <paramref name="kernels"/> use, so that bench can check what it is about to time.
    /// </summary>
    public static IEnumerable<SelfTestRow> Rows(DeviceKernels kernels, Random rng)
    {
        // At tf32 also the skinny bottleneck products (784→392→z→392 with z = 8): into the code and out of it.
        var sizes = kernels.Precision == Precision.Tf32
            ? new[] { (37, 28, 44), (2048, Architecture.Pixels, Architecture.Hidden), (2048, 8, Architecture.Hidden), (2048, Architecture.Hidden, 8), (33, 5, 19) }
            : new[] { (37, 28, 44), (2048, Architecture.Pixels, Architecture.Hidden) };
        foreach (var size in sizes)
            foreach (var shape in Enum.GetValues<MatmulShape>())
            {
                yield return Matmul(kernels, shape, size, null, rng);
                if (size.Item1 < 100 && kernels.Precision == Precision.Fp32) yield return Matmul(kernels, shape, size, MatmulVersion.Naive, rng);
            }
        yield return ColumnSums(kernels, 2048, Architecture.Pixels, rng);
        yield return ColumnSums(kernels, 33, 7, rng);
        yield return Mse(kernels, 2048, Architecture.Pixels, rng);
        yield return Adam(kernels, 622_504, rng);
        yield return Gather(kernels, 2048, Architecture.Pixels, rng);
        yield return TrainingStep(kernels, 64, rng);
    }

    static SelfTestRow Matmul(DeviceKernels k, MatmulShape shape, (int M, int N, int K) size, MatmulVersion? version, Random rng)
    {
        var (m, n, kk) = size;
        var acc = k.Accelerator;
        float[] a = Validation.RandomFloats(rng, shape == MatmulShape.Forward ? m * kk : m * n);
        float[] b = Validation.RandomFloats(rng, shape == MatmulShape.BackwardWeight ? m * kk : n * kk);
        float[] aux = shape == MatmulShape.Forward ? Validation.RandomFloats(rng, n) : Validation.RandomFloats(rng, m * kk).Select(v => Math.Max(0f, v)).ToArray();
        var (epilogue, expected, depth, outputs) = shape switch
        {
            MatmulShape.Forward => (Epilogue.Bias(Activation.Relu), MatmulReference.Forward(a, b, aux, m, n, kk, Activation.Relu), kk, m * n),
            MatmulShape.BackwardInput => (Epilogue.ReluMask, MatmulReference.BackwardInput(a, b, aux, m, n, kk), n, m * kk),
            _ => (Epilogue.None, MatmulReference.BackwardWeight(a, b, m, n, kk), m, n * kk),
        };
        using var da = k.Transfers.Allocate(a);
        using var db = k.Transfers.Allocate(b);
        using var dAux = k.Transfers.Allocate(aux);
        using var c = Validation.Poisoned(acc, outputs);
        var ran = k.Matmul(shape, da.View, db.View, c.View, dAux.View, m, n, kk, epilogue, version);
        double atol = ran == MatmulVersion.Tf32 ? Tf32Tolerance(shape, a, b, m, n, kk, depth) : 1e-6 * (depth + 8);
        return Row($"matmul {shape} v{(int)ran} {ran.ToString().ToLowerInvariant()}", k, $"{m}x{n}x{kk}",
            Validation.Compare(k.Transfers.Download(c), expected, atol, 1e-4));
    }

    /// <summary>
    /// The absolute error a TF32 product may carry, from the format rather than from a run.
    /// cvt.rna rounds each operand to 10 explicit mantissa bits, to nearest: a relative error of at most
    /// u = 2⁻¹¹ each, so a product of two rounded operands is off by at most (2u + u²)·|a·b| ≤ 2⁻¹⁰·|a·b|.
    /// The tensor core adds the products into an fp32 accumulator: over a depth d, at most d rounding
    /// errors of 2⁻²⁴ relative each, so (d + 8)·2⁻²⁴·Σ|a·b| with the same margin of 8 as the fp32 rows.
    /// Together |error| ≤ (2⁻¹⁰ + (d + 8)·2⁻²⁴)·Σ|aᵢ·bᵢ|, and the epilogues (bias, ReLU, Sigmoid, the mask)
    /// are 1-Lipschitz, so they do not enlarge it. Σ|aᵢ·bᵢ| is the product of the absolute operands,
    /// taken at its largest element: a bound no correct kernel exceeds, and far below the error of a
    /// fragment put in the wrong place, which is of the order of Σ|aᵢ·bᵢ| itself.
    /// </summary>
    internal static double Tf32Tolerance(MatmulShape shape, float[] a, float[] b, int m, int n, int k, int depth)
    {
        float[] absA = a.Select(MathF.Abs).ToArray(), absB = b.Select(MathF.Abs).ToArray();
        var magnitudes = shape switch
        {
            MatmulShape.Forward => MatmulReference.Forward(absA, absB, new float[n], m, n, k, Activation.Identity),
            MatmulShape.BackwardInput => MatmulReference.BackwardInput(absA, absB, Enumerable.Repeat(1f, m * k).ToArray(), m, n, k),
            _ => MatmulReference.BackwardWeight(absA, absB, m, n, k),
        };
        return (Math.Pow(2, -10) + (depth + 8) * Math.Pow(2, -24)) * magnitudes.Max();
    }

    static SelfTestRow ColumnSums(DeviceKernels k, int rows, int cols, Random rng)
    {
        var src = Validation.RandomFloats(rng, rows * cols);
        using var d = k.Transfers.Allocate(src);
        using var sums = Validation.Poisoned(k.Accelerator, cols);
        k.ColumnSums(d.View, rows, cols, sums.View);
        return Row("column sums", k, $"{rows}x{cols}",
            Validation.Compare(k.Transfers.Download(sums), ElementwiseReference.ColumnSums(src, rows, cols), 1e-6 * (rows + 8), 1e-5));
    }

    static SelfTestRow Mse(DeviceKernels k, int rows, int cols, Random rng)
    {
        float[] y = Validation.RandomFloats(rng, rows * cols, 0.001f, 0.999f), t = Validation.RandomFloats(rng, rows * cols, 0f, 1f);
        using var dy = k.Transfers.Allocate(y);
        using var dt = k.Transfers.Allocate(t);
        using var dz = Validation.Poisoned(k.Accelerator, rows * cols);
        using var loss = Validation.Poisoned(k.Accelerator, 1);
        k.MseSigmoidBackward(dy.View, dt.View, dz.View, loss.View, rows, cols);
        var (refLoss, refDz) = ElementwiseReference.MseSigmoidBackward(y, t, rows, cols);
        return Row("mse + sigmoid backward", k, $"{rows}x{cols}",
            Worst(Validation.Compare(k.Transfers.Download(loss), [refLoss], 0, 1e-5), Validation.Compare(k.Transfers.Download(dz), refDz, 1e-12, 1e-5)));
    }

    static SelfTestRow Adam(DeviceKernels k, int n, Random rng)
    {
        float[] p = Validation.RandomFloats(rng, n), g = Validation.RandomFloats(rng, n, -0.01f, 0.01f);
        float[] m = Validation.RandomFloats(rng, n, -0.01f, 0.01f), v = Validation.RandomFloats(rng, n, 0f, 1e-4f);
        using var dp = k.Transfers.Allocate(p);
        using var dg = k.Transfers.Allocate(g);
        using var dm = k.Transfers.Allocate(m);
        using var dv = k.Transfers.Allocate(v);
        k.Adam(dp.View, dg.View, dm.View, dv.View, n, new AdamStep(1e-3, 0.9, 0.999, 1e-8, 10));
        var (rp, rm, rv) = ElementwiseReference.Adam(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 10);
        return Row("adam", k, $"{n}", Worst(Validation.Compare(k.Transfers.Download(dp), rp, 1e-6, 1e-5),
            Worst(Validation.Compare(k.Transfers.Download(dm), rm, 1e-8, 1e-5), Validation.Compare(k.Transfers.Download(dv), rv, 1e-11, 1e-5))));
    }

    static SelfTestRow Gather(DeviceKernels k, int rows, int pixels, Random rng)
    {
        int count = rows + 100;
        var images = new byte[count * pixels];
        rng.NextBytes(images);
        var perm = Enumerable.Range(0, count).OrderBy(_ => rng.Next()).ToArray();
        using var di = k.Transfers.Allocate(images);
        using var dp = k.Transfers.Allocate(perm);
        using var x = Validation.Poisoned(k.Accelerator, rows * pixels);
        k.GatherBatch(di.View, dp.View, 50, rows, pixels, x.View);
        return Row("batch gather", k, $"{rows}x{pixels}",
            Validation.Compare(k.Transfers.Download(x), ElementwiseReference.GatherBatch(images, perm, 50, rows, pixels), 0, 1e-7));
    }

    /// <summary>Forward, loss, backward and Adam on the device against <see cref="ReferenceModel"/>: loss and every gradient.</summary>
    static SelfTestRow TrainingStep(DeviceKernels k, int rows, Random rng)
    {
        var layout = new ParameterLayout(new Architecture());
        var images = new byte[rows * Architecture.Pixels];
        rng.NextBytes(images);
        var initial = layout.Initialize((ulong)rng.NextInt64());
        var options = new TrainingOptions { BatchSize = rows, Shuffle = false, Epochs = 1 };
        using var trainer = new DeviceTrainer(k, layout, images, rows, options, initial);
        var epoch = trainer.TrainEpoch(0);
        var (refLoss, refGrads) = new ReferenceModel(layout, initial).LossAndGradients(ReferenceModel.Scale(images, 0, rows), rows);
        double scale = refGrads.Max(Math.Abs);
        // At tf32 every one of the step's eight products carries up to 2⁻¹⁰ relative error per term (see
        // Tf32Tolerance), and the backward pass compounds them: 1e-2 of the largest gradient, ten times 2⁻¹⁰.
        var grads = Validation.Compare(trainer.DownloadGradients(), refGrads, (k.Precision == Precision.Tf32 ? 1e-2 : 1e-4) * scale, 1e-3);
        var loss = Validation.Compare([(float)epoch.Loss], [refLoss], 0, k.Precision == Precision.Tf32 ? 1e-3 : 1e-5);
        return Row("training step (loss, gradients)", k, $"{rows} images", Worst(loss, grads));
    }

    static ValidationResult Worst(ValidationResult a, ValidationResult b) => a.Passed && !b.Passed || a.MaxError < b.MaxError && a.Passed == b.Passed ? b : a;

    static SelfTestRow Row(string kernel, DeviceKernels k, string shape, ValidationResult r) =>
        new(kernel, k.Precision == Precision.Tf32 ? $"{k.Schedule.Name}/tf32" : k.Schedule.Name, shape, r.MaxError, r.Passed, r.Passed ? "" : $"{r.Mismatches} of {r.Count} mismatch:\n{r.FirstMismatches}");
}
