using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Tests;

/// <summary>Every matrix-product version against the float64 reference, on fresh random inputs and poisoned outputs.</summary>
public class MatmulTests
{
    static readonly Schedule[] Schedules = [Schedule.Cpu with { Matmul = MatmulVersion.Naive }, Schedule.Cpu];

    // Sizes that are multiples of no tile or block, and the real layer sizes. 33×7×20 and 37×29×44 give
    // the blocked forward kernel (k a multiple of 4) an n that is not, so its column guards run.
    static IEnumerable<TestCaseData> Cases()
    {
        int[][] sizes = [[1, 1, 1], [7, 7, 7], [33, 33, 33], [1, 7, 33], [33, 1, 7], [7, 33, 1], [33, 12, 20], [37, 28, 44], [5, 8, 392],
            [33, 7, 20], [37, 29, 44]];
        foreach (var shape in Enum.GetValues<MatmulShape>())
            foreach (var s in Schedules)
                foreach (var size in sizes)
                    yield return new TestCaseData(shape, s.Matmul, size[0], size[1], size[2]).SetName($"{shape}_{s.Matmul}_{size[0]}x{size[1]}x{size[2]}");
        foreach (var shape in Enum.GetValues<MatmulShape>())
            yield return new TestCaseData(shape, MatmulVersion.Blocked, 2048, 784, 392).SetName($"{shape}_Blocked_2048x784x392");
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesFloat64Reference(MatmulShape shape, MatmulVersion version, int m, int n, int k)
    {
        var rng = TestSeed.Random();
        var kernels = TestAccelerator.Kernels(Schedule.Cpu);
        var acc = kernels.Accelerator;
        switch (shape)
        {
            case MatmulShape.Forward:
                foreach (var act in Enum.GetValues<Activation>())
                {
                    float[] x = Compare.Random(rng, m * k), w = Compare.Random(rng, n * k), b = Compare.Random(rng, n);
                    using var dx = acc.Allocate1D(x);
                    using var dw = acc.Allocate1D(w);
                    using var db = acc.Allocate1D(b);
                    using var y = TestAccelerator.Poisoned(m * n);
                    var ran = kernels.Matmul(shape, new(dx.View, dw.View, y.View, db.View), new(m, n, k), Epilogue.Bias(act), version);
                    Compare.Close(y.GetAsArray1D(), MatmulReference.Forward(x, w, b, m, n, k, act), Tolerance(k), 1e-4, $"{shape} {ran} {act}");
                    AssertVersion(version, ran, shape, n, k);
                }
                break;
            case MatmulShape.BackwardInput:
                foreach (bool masked in new[] { false, true })
                {
                    float[] dy = Compare.Random(rng, m * n), w = Compare.Random(rng, n * k);
                    // A ReLU output: about half exactly zero.
                    float[] h = Compare.Random(rng, m * k).Select(v => Math.Max(0f, v)).ToArray();
                    using var ddy = acc.Allocate1D(dy);
                    using var dw = acc.Allocate1D(w);
                    using var dh = acc.Allocate1D(h);
                    using var dx = TestAccelerator.Poisoned(m * k);
                    var ran = kernels.Matmul(shape, new(ddy.View, dw.View, dx.View, dh.View), new(m, n, k), masked ? Epilogue.ReluMask : Epilogue.None, version);
                    Compare.Close(dx.GetAsArray1D(), MatmulReference.BackwardInput(dy, w, masked ? h : null, m, n, k), Tolerance(n), 1e-4, $"{shape} {ran} mask={masked}");
                    AssertVersion(version, ran, shape, n, k);
                }
                break;
            default:
                {
                    float[] dy = Compare.Random(rng, m * n), x = Compare.Random(rng, m * k);
                    using var ddy = acc.Allocate1D(dy);
                    using var dx = acc.Allocate1D(x);
                    using var dw = TestAccelerator.Poisoned(n * k);
                    var ran = kernels.Matmul(shape, new(ddy.View, dx.View, dw.View, dw.View), new(m, n, k), Epilogue.None, version);
                    Compare.Close(dw.GetAsArray1D(), MatmulReference.BackwardWeight(dy, x, m, n, k), Tolerance(m), 1e-4, $"{shape} {ran}");
                    AssertVersion(version, ran, shape, n, k);
                    break;
                }
        }
    }

    /// <summary>Float32 sums of `depth` products of values in [−1, 1] drift by about depth·ε.</summary>
    static double Tolerance(int depth) => 1e-6 * (depth + 8);

    /// <summary>The blocked version must actually run wherever its alignment rules allow, not silently fall back.</summary>
    static void AssertVersion(MatmulVersion asked, MatmulVersion ran, MatmulShape shape, int n, int k)
    {
        bool fits = k % 4 == 0 && (shape == MatmulShape.Forward || n % 4 == 0);
        var expected = asked == MatmulVersion.Naive || !fits ? MatmulVersion.Naive : MatmulVersion.Blocked;
        Assert.That(ran, Is.EqualTo(expected));
    }
}
