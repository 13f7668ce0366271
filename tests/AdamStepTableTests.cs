using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Tests;

/// <summary>
/// Adam with its per-step scalars in device memory must train exactly as Adam with them passed as
/// arguments: same bits, step after step, across learning-rate changes and table refills.
/// </summary>
public class AdamStepTableTests
{
    static Accelerator Cpu => TestAccelerator.Cpu;

    [TestCase(1, 3)]
    [TestCase(1037, 3)]
    [TestCase(622504, 4)]
    public void MatchesArgumentAdamBitForBit(int n, int capacity)
    {
        int seed = TestSeed.Current;
        var rng = new Random(seed);
        float[] p = Compare.Random(rng, n), m = Compare.Random(rng, n, -0.01f, 0.01f), v = Compare.Random(rng, n, 0f, 1e-4f);
        var kernels = TestAccelerator.Kernels(Schedule.Cpu);
        using var table = new AdamStepTable(Cpu, TestAccelerator.Kernels(Schedule.Cpu).Transfers, capacity, 0.9, 0.999, 1e-8);
        using var ap = Cpu.Allocate1D(p);
        using var am = Cpu.Allocate1D(m);
        using var av = Cpu.Allocate1D(v);
        using var tp = Cpu.Allocate1D(p);
        using var tm = Cpu.Allocate1D(m);
        using var tv = Cpu.Allocate1D(v);
        using var grad = Cpu.Allocate1D<float>(n);
        // Two "epochs" at different rates, longer than the table, so the cursor wraps into refills.
        for (long step = 1; step <= 2 * capacity + 3; step++)
        {
            double lr = step <= capacity + 1 ? 1e-3 : 1e-3 * 0.95;
            grad.CopyFromCPU(Compare.Random(rng, n, -0.01f, 0.01f));
            kernels.Adam(ap.View, grad.View, am.View, av.View, n, new AdamStep(lr, 0.9, 0.999, 1e-8, step));
            table.Apply(step, lr, tp.View, grad.View, tm.View, tv.View, n);
            foreach (var (what, a, b) in new[] { ("parameters", ap, tp), ("m", am, tm), ("v", av, tv) })
            {
                var (x, y) = (a.GetAsArray1D(), b.GetAsArray1D());
                int diff = Enumerable.Range(0, n).FirstOrDefault(i => BitConverter.SingleToInt32Bits(x[i]) != BitConverter.SingleToInt32Bits(y[i]), -1);
                Assert.That(diff, Is.EqualTo(-1), () => $"seed {seed}, step {step}: {what}[{diff}] is {x[diff]:R} with arguments, {y[diff]:R} from the table");
            }
        }
    }

    [Test]
    public void FirstStepMatchesTheFloat64Reference()
    {
        int seed = TestSeed.Current, n = 333;
        var rng = new Random(seed);
        float[] p = Compare.Random(rng, n), g = Compare.Random(rng, n, -0.01f, 0.01f);
        float[] m = Compare.Random(rng, n, -0.01f, 0.01f), v = Compare.Random(rng, n, 0f, 1e-4f);
        using var table = new AdamStepTable(Cpu, TestAccelerator.Kernels(Schedule.Cpu).Transfers, 8, 0.9, 0.999, 1e-8);
        using var dp = Cpu.Allocate1D(p);
        using var dg = Cpu.Allocate1D(g);
        using var dm = Cpu.Allocate1D(m);
        using var dv = Cpu.Allocate1D(v);
        table.Apply(7, 2e-3, dp.View, dg.View, dm.View, dv.View, n);
        var (rp, rm, rv) = ElementwiseReference.Adam(p, g, m, v, 2e-3, 0.9, 0.999, 1e-8, 7);
        TestContext.Out.WriteLine($"seed {seed}");
        Compare.Close(dm.GetAsArray1D(), rm, 1e-8, 1e-5, $"m (seed {seed})");
        Compare.Close(dv.GetAsArray1D(), rv, 1e-11, 1e-5, $"v (seed {seed})");
        Compare.Close(dp.GetAsArray1D(), rp, 1e-6, 1e-5, $"parameters (seed {seed})");
    }

    [Test]
    public void UploadsOnlyWhenTheTableDoesNotHoldTheStep()
    {
        using var table = new AdamStepTable(Cpu, TestAccelerator.Kernels(Schedule.Cpu).Transfers, 3, 0.9, 0.999, 1e-8);
        using var buf = Cpu.Allocate1D<float>(4);
        long Step(long step, double lr) => table.Apply(step, lr, buf.View, buf.View, buf.View, buf.View, 4);
        long full = 2 * 3 * sizeof(float);
        Assert.That(new[] { Step(1, 1e-3), Step(2, 1e-3), Step(3, 1e-3) }, Is.EqualTo(new[] { full, 0, 0 }));
        Assert.That(Step(4, 1e-3), Is.EqualTo(full), "past the table's end");
        Assert.That(Step(5, 5e-4), Is.EqualTo(full), "a new learning rate");
        Assert.That(Step(9, 5e-4), Is.EqualTo(full), "a jump in the step count (a resumed run)");
        Assert.That(Step(10, 5e-4), Is.EqualTo(0));
    }

    [Test]
    public void EnqueueBeforePrepareThrows()
    {
        using var table = new AdamStepTable(Cpu, TestAccelerator.Kernels(Schedule.Cpu).Transfers, 3, 0.9, 0.999, 1e-8);
        using var buf = Cpu.Allocate1D<float>(4);
        Assert.Throws<InvalidOperationException>(() => table.Enqueue(buf.View, buf.View, buf.View, buf.View, 4));
    }
}
