using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Tests;

/// <summary>
/// The one Adam kernel, launched through its step table, against the float64 reference; and the
/// table itself, whose cursor and refills must not change a bit of what a step computes.
/// </summary>
public class AdamStepTableTests
{
    static Accelerator Cpu => TestAccelerator.Cpu;
    static HostTransfers Transfers => TestAccelerator.Kernels(Schedule.Cpu).Transfers;

    [TestCase(1)]
    [TestCase(7)]
    [TestCase(33)]
    [TestCase(622504)]
    public void MatchesTheFloat64Reference(int n)
    {
        var rng = TestSeed.Random();
        float[] p = Compare.Random(rng, n), g = Compare.Random(rng, n, -0.01f, 0.01f);
        float[] m = Compare.Random(rng, n, -0.01f, 0.01f), v = Compare.Random(rng, n, 0f, 1e-4f);
        long step = rng.Next(1, 1000);
        using var table = new AdamStepTable(Cpu, Transfers, 8, 0.9, 0.999, 1e-8);
        using var dp = Cpu.Allocate1D(p);
        using var dg = Cpu.Allocate1D(g);
        using var dm = Cpu.Allocate1D(m);
        using var dv = Cpu.Allocate1D(v);
        table.Apply(step, 2e-3, dp.View, dg.View, dm.View, dv.View, n);
        var (rp, rm, rv) = AdamReference.Step(p, g, m, v, 2e-3, 0.9, 0.999, 1e-8, step);
        // m = 0.9·m + 0.1·g cancels: its float error is an ulp of the operands (~1e-9), not of the result.
        Compare.Close(dm.GetAsArray1D(), rm, 1e-8, 1e-5, $"m at step {step}");
        Compare.Close(dv.GetAsArray1D(), rv, 1e-11, 1e-5, $"v at step {step}");
        Compare.Close(dp.GetAsArray1D(), rp, 1e-6, 1e-5, $"parameters at step {step}");
    }

    /// <summary>
    /// A table of one entry is uploaded afresh for every step, so its cursor never moves: against it, a
    /// longer table that is walked, refilled past its end and refilled at a new learning rate must give
    /// the same bits, step after step.
    /// </summary>
    [TestCase(1, 3)]
    [TestCase(1037, 3)]
    [TestCase(622504, 4)]
    public void WalkingAndRefillingTheTableChangesNoBit(int n, int capacity)
    {
        int seed = TestSeed.Current;
        var rng = new Random(seed);
        float[] p = Compare.Random(rng, n), m = Compare.Random(rng, n, -0.01f, 0.01f), v = Compare.Random(rng, n, 0f, 1e-4f);
        using var fresh = new AdamStepTable(Cpu, Transfers, 1, 0.9, 0.999, 1e-8);
        using var table = new AdamStepTable(Cpu, Transfers, capacity, 0.9, 0.999, 1e-8);
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
            Assert.That(fresh.Apply(step, lr, ap.View, grad.View, am.View, av.View, n), Is.Positive, "a one-entry table uploads every step");
            table.Apply(step, lr, tp.View, grad.View, tm.View, tv.View, n);
            foreach (var (what, a, b) in new[] { ("parameters", ap, tp), ("m", am, tm), ("v", av, tv) })
            {
                var (x, y) = (a.GetAsArray1D(), b.GetAsArray1D());
                int diff = Enumerable.Range(0, n).FirstOrDefault(i => BitConverter.SingleToInt32Bits(x[i]) != BitConverter.SingleToInt32Bits(y[i]), -1);
                Assert.That(diff, Is.EqualTo(-1), () => $"seed {seed}, step {step}: {what}[{diff}] is {x[diff]:R} uploaded for the step, {y[diff]:R} from the walked table");
            }
        }
    }

    [Test]
    public void UploadsOnlyWhenTheTableDoesNotHoldTheStep()
    {
        using var table = new AdamStepTable(Cpu, Transfers, 3, 0.9, 0.999, 1e-8);
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
    public void AStepBeforePrepareThrows()
    {
        using var table = new AdamStepTable(Cpu, Transfers, 3, 0.9, 0.999, 1e-8);
        Assert.Throws<InvalidOperationException>(table.Advanced);
    }
}

/// <summary>One whole step through the table, as AdamOptimizer takes it: prepare, launch, advance.</summary>
static class AdamStepTableSteps
{
    /// <returns>The bytes <see cref="AdamStepTable.Prepare"/> copied to the device.</returns>
    public static long Apply(this AdamStepTable table, long step, double learningRate, ArrayView<float> param, ArrayView<float> grad,
        ArrayView<float> m, ArrayView<float> v, int count)
    {
        long bytes = table.Prepare(step, learningRate);
        table.Launch(param, grad, m, v, count);
        table.Advanced();
        return bytes;
    }
}
