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

    /// <summary>
    /// Training's gather reads which batch from a device-side cursor, and the end of a batch keeps its
    /// loss at the cursor and moves it on, wrapping after the epoch's last batch: three batches of 5
    /// images of 7 pixels and a partial one of 2, then the first again.
    /// </summary>
    [Test]
    public void TheBatchCursorWalksAnEpochAndWraps()
    {
        const int batchSize = 5, pixels = 7, count = 17, batches = 4;
        var rng = TestSeed.Random();
        var images = new byte[count * pixels];
        rng.NextBytes(images);
        var perm = Enumerable.Range(0, count).OrderBy(_ => rng.Next()).ToArray();
        float[] losses = Compare.Random(rng, batches + 1, 0f, 1f);
        using var di = Kernels.Accelerator.Allocate1D(images);
        using var dp = Kernels.Accelerator.Allocate1D(perm);
        using var cursor = Kernels.Accelerator.Allocate1D<int>(1);
        cursor.MemSetToZero();
        using var kept = TestAccelerator.Poisoned(batches);
        for (int step = 0; step <= batches; step++)
        {
            int b = step % batches, rows = Math.Min(batchSize, count - b * batchSize);
            using var x = TestAccelerator.Poisoned(rows * pixels);
            using var loss = Kernels.Accelerator.Allocate1D(new[] { losses[step] });
            Kernels.GatherBatch(di.View, dp.View, cursor.View, batchSize, rows, pixels, x.View);
            Compare.Close(x.GetAsArray1D(), ElementwiseReference.GatherBatch(images, perm, b * batchSize, rows, pixels), 0, 1e-7, $"batch {b} at step {step}");
            Kernels.EndBatch(loss.View, kept.View, cursor.View, batches);
            Assert.That(cursor.GetAsArray1D()[0], Is.EqualTo((b + 1) % batches), $"cursor after step {step}");
            Assert.That(kept.GetAsArray1D()[b], Is.EqualTo(losses[step]), $"loss of step {step}");
        }
        Assert.That(kept.GetAsArray1D(), Is.EqualTo(new[] { losses[4], losses[1], losses[2], losses[3] }), "each batch's last loss, in its place");
    }
}
