using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Tests;

/// <summary>
/// The GPU schedule's kernels on a CPU device wide enough for their groups, sized as if it had 40
/// multiprocessors, so that products and reductions split the way they would on a GPU.
/// </summary>
public static class SplitGpuSchedule
{
    static readonly Lazy<DeviceKernels> kernels = new(() =>
    {
        var acc = TestAccelerator.WideGpuSchedule.Accelerator;
        return new DeviceKernels(acc, Schedule.Gpu) { Shape = DeviceShape.Of(acc) with { Multiprocessors = 40 } };
    });

    public static DeviceKernels Kernels => kernels.Value;
}

/// <summary>
/// Products with a side of at most 8 on the GPU schedule, as it chooses for them (version 5, or
/// version 1 when the depth is that small), against float64, at sizes that are multiples of no tile.
/// </summary>
public class SkinnyMatmulTests
{
    static DeviceKernels Kernels => SplitGpuSchedule.Kernels;

    [TestCase(MatmulShape.Forward, 37, 8, 45, MatmulVersion.Skinny)]
    [TestCase(MatmulShape.Forward, 13, 5, 300, MatmulVersion.Skinny)]
    [TestCase(MatmulShape.Forward, 9, 1, 33, MatmulVersion.Skinny)]
    [TestCase(MatmulShape.Forward, 37, 45, 8, MatmulVersion.Naive)]
    [TestCase(MatmulShape.BackwardInput, 37, 45, 8, MatmulVersion.Skinny)]
    [TestCase(MatmulShape.BackwardInput, 13, 300, 3, MatmulVersion.Skinny)]
    [TestCase(MatmulShape.BackwardInput, 37, 5, 45, MatmulVersion.Naive)]
    [TestCase(MatmulShape.BackwardWeight, 301, 8, 45, MatmulVersion.Skinny)]
    [TestCase(MatmulShape.BackwardWeight, 70, 45, 8, MatmulVersion.Skinny)]
    [TestCase(MatmulShape.BackwardWeight, 33, 3, 5, MatmulVersion.Skinny)]
    public void ProductMatchesFloat64(MatmulShape shape, int m, int n, int k, MatmulVersion expectedVersion)
    {
        var acc = Kernels.Accelerator;
        var rng = TestSeed.Random();
        float[] a = Compare.Random(rng, m * (shape == MatmulShape.Forward ? k : n));
        float[] b = Compare.Random(rng, shape == MatmulShape.BackwardWeight ? m * k : n * k);
        float[] aux = shape == MatmulShape.Forward ? Compare.Random(rng, n) : Compare.Random(rng, m * k).Select(v => Math.Max(0f, v)).ToArray();
        var (outputs, depth, epilogue, expected) = shape switch
        {
            // Sigmoid squeezes errors; ReLU is what the bottleneck layer uses.
            MatmulShape.Forward => (m * n, k, Epilogue.Bias(Activation.Relu), MatmulReference.Forward(a, b, aux, m, n, k, Activation.Relu)),
            MatmulShape.BackwardInput => (m * k, n, Epilogue.ReluMask, MatmulReference.BackwardInput(a, b, aux, m, n, k)),
            _ => (n * k, m, Epilogue.None, MatmulReference.BackwardWeight(a, b, m, n, k)),
        };
        using var da = acc.Allocate1D(a);
        using var db = acc.Allocate1D(b);
        using var dAux = acc.Allocate1D(aux);
        for (int run = 0; run < 2; run++)
        {
            using var c = TestAccelerator.Poisoned(outputs, acc);
            var ran = Kernels.Matmul(shape, new(da.View, db.View, c.View, dAux.View), new(m, n, k), epilogue);
            Assert.That(ran, Is.EqualTo(expectedVersion));
            Compare.Close(c.GetAsArray1D(), expected, 1e-6 * (depth + 8), 1e-4, $"run {run + 1}: {shape} v{(int)ran}");
        }
    }

    [TestCase(301, 8, 45)]
    [TestCase(70, 45, 8)]
    [TestCase(33, 3, 5)]
    [TestCase(1, 1, 1)]
    public void WeightAndBiasGradientsInOneLaunchMatchFloat64(int m, int n, int k)
    {
        var acc = Kernels.Accelerator;
        var rng = TestSeed.Random();
        float[] dy = Compare.Random(rng, m * n), x = Compare.Random(rng, m * k);
        using var ddy = acc.Allocate1D(dy);
        using var dx = acc.Allocate1D(x);
        float[]? firstW = null, firstB = null;
        for (int run = 0; run < 2; run++)
        {
            using var dw = TestAccelerator.Poisoned(n * k, acc);
            using var dbias = TestAccelerator.Poisoned(n, acc);
            var recorder = new LaunchRecorder();
            Kernels.Recorder = recorder;
            bool fused;
            try
            {
                fused = Kernels.LinearBackwardWeightAndBias(ddy.View, dx.View, dw.View, dbias.View, new(m, n, k));
            }
            finally
            {
                Kernels.Recorder = null;
            }
            Assert.That(fused, Is.True, "the bias gradient came in the product's launch");
            Assert.That(recorder.Launches, Has.Count.EqualTo(1));
            float[] w = dw.GetAsArray1D(), bias = dbias.GetAsArray1D();
            Compare.Close(w, MatmulReference.BackwardWeight(dy, x, m, n, k), 1e-6 * (m + 8), 1e-4, $"run {run + 1}: dW");
            Compare.Close(bias, ElementwiseReference.ColumnSums(dy, m, n), 1e-6 * (m + 8), 1e-4, $"run {run + 1}: db");
            if (firstW == null) (firstW, firstB) = (w, bias);
            else
            {
                Assert.That(w, Is.EqualTo(firstW), "deterministic dW");
                Assert.That(bias, Is.EqualTo(firstB), "deterministic db");
            }
        }
    }

    [Test]
    public void AskingForVersionFiveByNumberIsRefused()
    {
        using var v = TestAccelerator.Poisoned(64, Kernels.Accelerator);
        Assert.Throws<ArgumentException>(() => Kernels.Matmul(MatmulShape.Forward, new(v.View, v.View, v.View, v.View), new(2, 2, 2), Epilogue.None, MatmulVersion.Skinny));
    }

    [Test]
    public void OtherSchedulesLeaveTheBiasGradientToTheCaller()
    {
        var kernels = TestAccelerator.Kernels(Schedule.Cpu);
        using var dy = kernels.Accelerator.Allocate1D(Compare.Random(TestSeed.Random(), 16 * 8));
        using var x = kernels.Accelerator.Allocate1D(Compare.Random(TestSeed.Random(), 16 * 4));
        using var dw = TestAccelerator.Poisoned(8 * 4);
        using var db = TestAccelerator.Poisoned(8);
        Assert.That(kernels.LinearBackwardWeightAndBias(dy.View, x.View, dw.View, db.View, new(16, 8, 4)), Is.False);
        Assert.That(db.GetAsArray1D(), Is.All.NaN, "a bias gradient it did not compute is not written");
    }
}
