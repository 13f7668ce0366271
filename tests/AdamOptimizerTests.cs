using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;

namespace GpuAutoencoder.Tests;

/// <summary>
/// Training's Adam: its steps against the float64 reference, its checkpoint state carrying a run on
/// bit for bit, and a state that does not fit refused without touching the one it holds.
/// </summary>
public class AdamOptimizerTests
{
    static DeviceKernels Kernels => TestAccelerator.Kernels(Schedule.Cpu);
    const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;

    static AdamOptimizer Adam(int n, int stepsPerUpload = 4) => new(Kernels, n, stepsPerUpload, Beta1, Beta2, Epsilon);

    [TestCase(1)]
    [TestCase(333)]
    public void StepsFromZeroMomentsMatchTheFloat64Reference(int n)
    {
        var rng = TestSeed.Random();
        float[] p = Compare.Random(rng, n);
        float[] m = new float[n], v = new float[n];
        using var adam = Adam(n);
        using var dp = Kernels.Transfers.Allocate(p);
        using var dg = Kernels.Accelerator.Allocate1D<float>(n);
        // Two steps at two rates: the second's bias corrections are t = 2's, so a step count that did not move would show.
        foreach (var (step, lr) in new[] { (1L, 1e-3), (2L, 5e-4) })
        {
            float[] g = Compare.Random(rng, n, -0.01f, 0.01f);
            Kernels.Transfers.Upload(dg.View, g);
            adam.Update(dp.View, dg.View, lr);
            var after = adam.Export();
            var (rp, rm, rv) = AdamReference.Step(p, g, m, v, lr, Beta1, Beta2, Epsilon, step);
            Assert.That(after.Step, Is.EqualTo(step));
            Compare.Close(after.M, rm, 1e-8, 1e-5, $"m at step {step}");
            Compare.Close(after.V, rv, 1e-11, 1e-5, $"v at step {step}");
            p = Kernels.Transfers.Download(dp);
            Compare.Close(p, rp, 1e-6, 1e-5, $"parameters at step {step}");
            (m, v) = (after.M, after.V);
        }
    }

    [Test]
    public void AnImportedStateContinuesBitForBit()
    {
        const int n = 257;
        var rng = TestSeed.Random();
        float[] p = Compare.Random(rng, n);
        var grads = Enumerable.Range(0, 6).Select(_ => Compare.Random(rng, n, -0.01f, 0.01f)).ToArray();
        double Rate(int step) => step <= 4 ? 1e-3 : 9e-4;
        using var dg = Kernels.Accelerator.Allocate1D<float>(n);

        using var through = Adam(n);
        using var tp = Kernels.Transfers.Allocate(p);
        AdamState? midway = null;
        float[]? midwayParameters = null;
        for (int s = 1; s <= grads.Length; s++)
        {
            Kernels.Transfers.Upload(dg.View, grads[s - 1]);
            through.Update(tp.View, dg.View, Rate(s));
            if (s == 3) (midway, midwayParameters) = (through.Export(), Kernels.Transfers.Download(tp));
        }

        // A different table length, so the resumed steps come from tables filled at other points.
        using var resumed = Adam(n, stepsPerUpload: 2);
        resumed.Import(midway!);
        Assert.That(resumed.Export(), Is.EqualTo(midway).Using<AdamState>(SameBits), "export gives back what was imported");
        using var rp = Kernels.Transfers.Allocate(midwayParameters!);
        for (int s = 4; s <= grads.Length; s++)
        {
            Kernels.Transfers.Upload(dg.View, grads[s - 1]);
            resumed.Update(rp.View, dg.View, Rate(s));
        }
        Assert.That(resumed.Export(), Is.EqualTo(through.Export()).Using<AdamState>(SameBits), "moments and step count");
        Assert.That(Kernels.Transfers.Download(rp), Is.EqualTo(Kernels.Transfers.Download(tp)), "parameters");
    }

    [Test]
    public void AStateThatDoesNotFitIsRefusedAndChangesNothing()
    {
        const int n = 5;
        using var adam = Adam(n);
        var rng = TestSeed.Random();
        var held = new AdamState(Compare.Random(rng, n), Compare.Random(rng, n, 0f, 1f), 7);
        adam.Import(held);
        foreach (var (bad, why) in new[]
        {
            (held with { M = new float[n + 1] }, "moments"),
            (held with { V = new float[n - 1] }, "moments"),
            (held with { Step = -1 }, "negative"),
        })
        {
            Assert.That(adam.Problem(bad), Does.Contain(why));
            Assert.Throws<ArgumentException>(() => adam.Import(bad));
            Assert.That(adam.Export(), Is.EqualTo(held).Using<AdamState>(SameBits), $"a refused state ({why}) changed the optimizer");
        }
    }

    static bool SameBits(AdamState a, AdamState b) =>
        a.Step == b.Step && a.M.Select(BitConverter.SingleToInt32Bits).SequenceEqual(b.M.Select(BitConverter.SingleToInt32Bits))
        && a.V.Select(BitConverter.SingleToInt32Bits).SequenceEqual(b.V.Select(BitConverter.SingleToInt32Bits));
}
