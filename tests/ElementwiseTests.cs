using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Tests;

/// <summary>The small kernels, under both schedules' launch shapes, against their float64 references.</summary>
[TestFixtureSource(nameof(Schedules))]
public class ElementwiseTests(Schedule schedule)
{
    public static readonly Schedule[] Schedules = [Schedule.Cpu, Schedule.Gpu];
    DeviceKernels Kernels => TestAccelerator.Kernels(schedule);

    [TestCase(1, 1)]
    [TestCase(7, 33)]
    [TestCase(33, 7)]
    [TestCase(2048, 784)]
    [TestCase(2049, 1)]
    public void ColumnSums(int rows, int cols)
    {
        var src = Compare.Random(TestSeed.Random(), rows * cols);
        using var d = Kernels.Accelerator.Allocate1D(src);
        using var sums = TestAccelerator.Poisoned(cols);
        Kernels.ColumnSums(d.View, rows, cols, sums.View);
        Compare.Close(sums.GetAsArray1D(), ElementwiseReference.ColumnSums(src, rows, cols), 1e-6 * (rows + 8), 1e-5, "column sums");
    }

    [TestCase(1, 1)]
    [TestCase(7, 33)]
    [TestCase(33, 784)]
    [TestCase(2048, 784)]
    public void MseSigmoidBackward(int rows, int cols)
    {
        var rng = TestSeed.Random();
        float[] y = Compare.Random(rng, rows * cols, 0.001f, 0.999f), t = Compare.Random(rng, rows * cols, 0f, 1f);
        using var dy = Kernels.Accelerator.Allocate1D(y);
        using var dt = Kernels.Accelerator.Allocate1D(t);
        using var dz = TestAccelerator.Poisoned(rows * cols);
        using var loss = TestAccelerator.Poisoned(1);
        Kernels.MseSigmoidBackward(dy.View, dt.View, dz.View, loss.View, rows, cols);
        var (refLoss, refDz) = ElementwiseReference.MseSigmoidBackward(y, t, rows, cols);
        Compare.Close(loss.GetAsArray1D(), [refLoss], 0, 1e-5, "loss");
        Compare.Close(dz.GetAsArray1D(), refDz, 1e-12, 1e-5, "dz");
    }

    [TestCase(1, 1)]
    [TestCase(33, 784)]
    [TestCase(1000, 784)]
    public void RowSquaredErrors(int rows, int cols)
    {
        var rng = TestSeed.Random();
        float[] a = Compare.Random(rng, rows * cols, 0f, 1f), b = Compare.Random(rng, rows * cols, -1f, 2f);
        using var da = Kernels.Accelerator.Allocate1D(a);
        using var db = Kernels.Accelerator.Allocate1D(b);
        using var sums = TestAccelerator.Poisoned(rows);
        Kernels.RowSquaredErrors(da.View, db.View, sums.View, rows, cols);
        Compare.Close(sums.GetAsArray1D(), ElementwiseReference.RowSquaredErrors(a, b, rows, cols), 1e-6, 1e-5, "row sums");
    }

    [TestCase(1, 1, 0)]
    [TestCase(7, 33, 5)]
    [TestCase(2048, 784, 1000)]
    public void GatherBatch(int rows, int pixels, int first)
    {
        var rng = TestSeed.Random();
        int count = first + rows + 3;
        var images = new byte[count * pixels];
        rng.NextBytes(images);
        var perm = Enumerable.Range(0, count).OrderBy(_ => rng.Next()).ToArray();
        using var di = Kernels.Accelerator.Allocate1D(images);
        using var dp = Kernels.Accelerator.Allocate1D(perm);
        using var x = TestAccelerator.Poisoned(rows * pixels);
        Kernels.GatherBatch(di.View, dp.View, first, rows, pixels, x.View);
        Compare.Close(x.GetAsArray1D(), ElementwiseReference.GatherBatch(images, perm, first, rows, pixels), 0, 1e-7, "batch");
    }
}
