using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Diagnostics;

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
                yield return Seeded(row, seed);
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
                yield return Seeded(row, seed);
        }
    }

    /// <summary>A failed row's detail ends with the seed its inputs came from, on a line of its own.</summary>
    static SelfTestRow Seeded(SelfTestRow row, int seed) =>
        row.Passed ? row : row with { Detail = $"{row.Detail}(inputs drawn from seed {seed})\n" };

    /// <summary>
    /// The rows of one schedule: every kernel with exactly the launch shapes and matrix-product
    /// version <paramref name="kernels"/> use, so that bench can check what it is about to time.
    /// </summary>
    public static IEnumerable<SelfTestRow> Rows(DeviceKernels kernels, Random rng)
    {
        // At tf32 also the skinny bottleneck products (784→392→z→392 with z = 8): into the code and out of it.
        var sizes = kernels.Precision == Precision.Tf32
            ? new[] { (37, 28, 44), (2048, Architecture.Pixels, Architecture.Hidden), (2048, 8, Architecture.Hidden), (2048, Architecture.Hidden, 8), (33, 5, 19) }
            : new[] { (37, 28, 44), (2048, Architecture.Pixels, Architecture.Hidden), (2048, 8, Architecture.Hidden), (2048, Architecture.Hidden, 8) };
        foreach (var size in sizes)
            foreach (var shape in Enum.GetValues<MatmulShape>())
            {
                yield return Matmul(kernels, shape, size, null, rng);
                if (size.Item1 < 100 && kernels.Precision == Precision.Fp32) yield return Matmul(kernels, shape, size, MatmulVersion.Naive, rng);
            }
        yield return ColumnSums(kernels, 2048, [Architecture.Pixels], rng);
        yield return ColumnSums(kernels, 33, [7], rng);
        // The bias gradients of a step in one launch.
        yield return ColumnSums(kernels, 2048, [Architecture.Hidden, 8, Architecture.Hidden, Architecture.Pixels], rng);
        // The weight gradients at the bottleneck, with their bias gradients (in the same launch where the schedule does that).
        yield return WeightAndBias(kernels, 2048, 8, Architecture.Hidden, rng);
        yield return WeightAndBias(kernels, 2048, Architecture.Hidden, 8, rng);
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
        var ran = k.Matmul(shape, new(da.View, db.View, c.View, dAux.View), new(m, n, kk), epilogue, version);
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

    /// <summary>Column sums of one or more [rows, cols] sources over the same rows, in one launch.</summary>
    static SelfTestRow ColumnSums(DeviceKernels k, int rows, int[] cols, Random rng)
    {
        var sources = cols.Select(c => Validation.RandomFloats(rng, rows * c)).ToArray();
        var src = sources.Select(s => k.Transfers.Allocate(s)).ToArray();
        var sums = cols.Select(c => Validation.Poisoned(k.Accelerator, c)).ToArray();
        try
        {
            k.ColumnSums(rows, 1f, cols.Select((c, i) => new ColumnSumJob(src[i].View, c, sums[i].View)).ToArray());
            var result = Enumerable.Range(0, cols.Length)
                .Select(i => Validation.Compare(k.Transfers.Download(sums[i]), ElementwiseReference.ColumnSums(sources[i], rows, cols[i]), 1e-6 * (rows + 8), 1e-5))
                .Aggregate(Worst);
            return Row(cols.Length == 1 ? "column sums" : $"column sums, {cols.Length} in one launch", k, $"{rows}x{string.Join("+", cols)}", result);
        }
        finally
        {
            foreach (var b in src.Concat(sums)) b.Dispose();
        }
    }

    /// <summary>dW = dYᵀ·X and db = Σ dY as a training step makes them: together where the schedule fuses them, else db after.</summary>
    static SelfTestRow WeightAndBias(DeviceKernels k, int m, int n, int kk, Random rng)
    {
        float[] dy = Validation.RandomFloats(rng, m * n), x = Validation.RandomFloats(rng, m * kk);
        using var ddy = k.Transfers.Allocate(dy);
        using var dx = k.Transfers.Allocate(x);
        using var dw = Validation.Poisoned(k.Accelerator, n * kk);
        using var db = Validation.Poisoned(k.Accelerator, n);
        bool fused = k.LinearBackwardWeightAndBias(ddy.View, dx.View, dw.View, db.View, new(m, n, kk));
        if (!fused) k.ColumnSums(ddy.View, m, n, db.View);
        double atol = k.Precision == Precision.Tf32 && !fused ? Tf32Tolerance(MatmulShape.BackwardWeight, dy, x, m, n, kk, m) : 1e-6 * (m + 8);
        return Row(fused ? "weight + bias gradient, one launch" : "weight gradient, then bias", k, $"{m}x{n}x{kk}",
            Worst(Validation.Compare(k.Transfers.Download(dw), MatmulReference.BackwardWeight(dy, x, m, n, kk), atol, 1e-4),
                Validation.Compare(k.Transfers.Download(db), ElementwiseReference.ColumnSums(dy, m, n), 1e-6 * (m + 8), 1e-5)));
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

    /// <summary>
    /// The update training runs: an <see cref="AdamOptimizer"/> at training's hyperparameters, its moments
    /// and step count put in and read back as a checkpoint does, one step of the kernel it launches.
    /// </summary>
    static SelfTestRow Adam(DeviceKernels k, int n, Random rng)
    {
        float[] p = Validation.RandomFloats(rng, n), g = Validation.RandomFloats(rng, n, -0.01f, 0.01f);
        float[] m = Validation.RandomFloats(rng, n, -0.01f, 0.01f), v = Validation.RandomFloats(rng, n, 0f, 1e-4f);
        var o = new TrainingOptions();
        const long step = 10;
        using var adam = new AdamOptimizer(k, n, 1, o.Beta1, o.Beta2, o.Epsilon);
        adam.Import(new AdamState(m, v, step - 1));
        using var dp = k.Transfers.Allocate(p);
        using var dg = k.Transfers.Allocate(g);
        adam.Update(dp.View, dg.View, o.LearningRate);
        var after = adam.Export();
        var (rp, rm, rv) = AdamReference.Step(p, g, m, v, o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, step);
        var steps = Validation.Compare([after.Step], [step], 0, 0);
        return Row("adam (training's optimizer)", k, $"{n}", Worst(Worst(steps, Validation.Compare(k.Transfers.Download(dp), rp, 1e-6, 1e-5)),
            Worst(Validation.Compare(after.M, rm, 1e-8, 1e-5), Validation.Compare(after.V, rv, 1e-11, 1e-5))));
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
    internal static SelfTestRow TrainingStep(DeviceKernels k, int rows, Random rng)
    {
        var layout = new ParameterLayout(new Architecture());
        var images = new byte[rows * Architecture.Pixels];
        rng.NextBytes(images);
        var initial = layout.Initialize((ulong)rng.NextInt64());
        var options = new TrainingOptions { BatchSize = rows, Shuffle = false, Epochs = 1 };
        using var trainer = new DeviceTrainer(k, layout, images, rows, options, initial);
        var epoch = trainer.TrainEpoch(0);
        var (refLoss, refGrads) = new ReferenceModel(layout, initial).LossAndGradients(ReferenceModel.Scale(images, 0, rows), rows);
        var grads = k.Precision == Precision.Tf32
            // Each of the step's eight products carries up to 2⁻¹⁰ relative error per term (Tf32Tolerance),
            // and a gradient passes through at most eight of them: 8·2⁻¹⁰ of the gradient as a whole. Not
            // element by element: a pre-activation that TF32's rounding moves across zero flips its ReLU,
            // and every gradient behind that unit jumps (seen once on an H200, 1 of 622,720, by 1 % of the
            // largest gradient). A fragment in the wrong place is off by the order of the gradient itself.
            ? Validation.CompareNorm(trainer.DownloadGradients(), refGrads, 8 * Math.Pow(2, -10))
            : Validation.Compare(trainer.DownloadGradients(), refGrads, 1e-4 * refGrads.Max(Math.Abs), 1e-3);
        var loss = Validation.Compare([(float)epoch.Loss], [refLoss], 0, k.Precision == Precision.Tf32 ? 1e-3 : 1e-5);
        return Row("training step (loss, gradients)", k, $"{rows} images", Worst(loss, grads));
    }

    static ValidationResult Worst(ValidationResult a, ValidationResult b) => a.Passed && !b.Passed || a.MaxError < b.MaxError && a.Passed == b.Passed ? b : a;

    static SelfTestRow Row(string kernel, DeviceKernels k, string shape, ValidationResult r) =>
        new(kernel, k.Precision == Precision.Tf32 ? $"{k.Schedule.Name}/tf32" : k.Schedule.Name, shape, r.MaxError, r.Passed, r.Passed ? "" : $"{r.Mismatches} of {r.Count} mismatch:\n{r.FirstMismatches}");
}
