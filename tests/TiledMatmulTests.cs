using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Tests;

/// <summary>
/// The GPU schedule's kernels (shared-memory tiles, barriers, split-K, row-per-group reductions),
/// run on a CPU device wide enough for their groups. Slow per FLOP there, so sizes are small; what
/// they check is indexing, bounds and barrier placement.
/// </summary>
public class TiledMatmulTests
{
    static IEnumerable<TestCaseData> Cases()
    {
        // One partial tile; thin shapes; several tiles with ragged edges; a depth long enough to split.
        // 68×36×44 reads both operands of every shape as Float4 throughout (rows a multiple of 4 long),
        // with ragged tiles and a depth that ends mid-slice; 9×20×260 also splits such a depth unevenly.
        // Odd row lengths read Float4 only where a row happens to start aligned, scalars elsewhere.
        int[][] sizes = [[37, 29, 45], [1, 1, 1], [7, 33, 1], [70, 65, 17], [33, 8, 300], [300, 9, 20], [20, 300, 9],
            [68, 36, 44], [9, 20, 260]];
        // The forward product runs under every activation: Sigmoid alone squeezes errors by up to 4×
        // and would hide an epilogue that ignores the activation it is given.
        foreach (var shape in Enum.GetValues<MatmulShape>())
            foreach (var act in shape == MatmulShape.Forward ? Enum.GetValues<Activation>() : [Activation.Identity])
                foreach (var size in sizes)
                    yield return new TestCaseData(MatmulVersion.Tiled, shape, act, size[0], size[1], size[2])
                        .SetName($"Tiled_{shape}{(shape == MatmulShape.Forward ? $"_{act}" : "")}_{size[0]}x{size[1]}x{size[2]}");
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesFloat64Reference(MatmulVersion version, MatmulShape shape, Activation act, int m, int n, int k) =>
        CheckAgainstReference(version, shape, act, m, n, k, operandOffset: 0);

    /// <summary>
    /// Operands that start one float into their buffers: rows of Float4-friendly lengths that must
    /// nonetheless be read one float at a time, since a 16-byte load there would fault on a GPU.
    /// </summary>
    [TestCase(MatmulShape.Forward, 68, 36, 44)]
    [TestCase(MatmulShape.BackwardInput, 68, 36, 44)]
    [TestCase(MatmulShape.BackwardWeight, 68, 36, 44)]
    public void UnalignedOperandsMatchFloat64Reference(MatmulShape shape, int m, int n, int k) =>
        CheckAgainstReference(MatmulVersion.Tiled, shape, Activation.Relu, m, n, k, operandOffset: 1);

    static void CheckAgainstReference(MatmulVersion version, MatmulShape shape, Activation act, int m, int n, int k, int operandOffset)
    {
        var kernels = TestAccelerator.WideGpuSchedule;
        var acc = kernels.Accelerator;
        var rng = TestSeed.Random();
        float[] dyOrX = Compare.Random(rng, m * (shape == MatmulShape.Forward ? k : n));
        float[] other = Compare.Random(rng, shape == MatmulShape.BackwardWeight ? m * k : n * k);
        float[] aux = shape == MatmulShape.Forward ? Compare.Random(rng, n) : Compare.Random(rng, m * k).Select(v => Math.Max(0f, v)).ToArray();
        var (rows, cols) = shape switch { MatmulShape.Forward => (m, n), MatmulShape.BackwardInput => (m, k), _ => (n, k) };
        var epilogue = shape switch
        {
            MatmulShape.Forward => Epilogue.Bias(act),
            MatmulShape.BackwardInput => Epilogue.ReluMask,
            _ => Epilogue.None,
        };
        double[] expected = shape switch
        {
            MatmulShape.Forward => MatmulReference.Forward(dyOrX, other, aux, m, n, k, act),
            MatmulShape.BackwardInput => MatmulReference.BackwardInput(dyOrX, other, aux, m, n, k),
            _ => MatmulReference.BackwardWeight(dyOrX, other, m, n, k),
        };
        using var da = acc.Allocate1D(new float[operandOffset].Concat(dyOrX).ToArray());
        using var db = acc.Allocate1D(new float[operandOffset].Concat(other).ToArray());
        using var dAux = acc.Allocate1D(aux);
        using var c = TestAccelerator.Poisoned(rows * cols, acc);
        var ran = kernels.Matmul(shape, new(da.View.SubView(operandOffset, dyOrX.Length), db.View.SubView(operandOffset, other.Length), c.View, dAux.View),
            new(m, n, k), epilogue, version);
        Assert.That(ran, Is.EqualTo(version));
        int depth = shape switch { MatmulShape.Forward => k, MatmulShape.BackwardInput => n, _ => m };
        Compare.Close(c.GetAsArray1D(), expected, 1e-6 * (depth + 8), 1e-4, $"tiled {shape} {act}");
    }

    [TestCase(1, 1)]
    [TestCase(5, 784)]
    [TestCase(9, 1000)]
    public void MseRowPerGroupMatchesReference(int rows, int cols)
    {
        var kernels = TestAccelerator.WideGpuSchedule;
        var rng = TestSeed.Random();
        float[] y = Compare.Random(rng, rows * cols, 0.001f, 0.999f), t = Compare.Random(rng, rows * cols, 0f, 1f);
        using var dy = kernels.Accelerator.Allocate1D(y);
        using var dt = kernels.Accelerator.Allocate1D(t);
        using var dz = TestAccelerator.Poisoned(rows * cols, kernels.Accelerator);
        using var loss = TestAccelerator.Poisoned(1, kernels.Accelerator);
        kernels.MseSigmoidBackward(dy.View, dt.View, dz.View, loss.View, rows, cols);
        var (refLoss, refDz) = ElementwiseReference.MseSigmoidBackward(y, t, rows, cols);
        Compare.Close(loss.GetAsArray1D(), [refLoss], 0, 1e-5, "loss");
        Compare.Close(dz.GetAsArray1D(), refDz, 1e-12, 1e-5, "dz");
    }
}
