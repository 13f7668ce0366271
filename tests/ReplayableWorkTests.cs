using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Tests;

/// <summary>
/// The graph path's fallback: off CUDA, replayable work is launched plainly, says so, and does the
/// same work on every run; Adam's device-side step table gives the same bits on a stream of its own.
/// </summary>
public class ReplayableWorkTests
{
    [Test]
    public void FallsBackToPlainLaunchesOffCudaAndRunsTheWorkEachTime()
    {
        int seed = TestSeed.Current, n = 257;
        var rng = new Random(seed);
        var cpu = TestAccelerator.Cpu;
        float[] p = Compare.Random(rng, n), g = Compare.Random(rng, n, -0.01f, 0.01f);
        using var stream = cpu.CreateStream();
        using var table = new AdamStepTable(cpu, TestAccelerator.Kernels(Schedule.Cpu).Transfers, 4, 0.9, 0.999, 1e-8);
        using var dp = cpu.Allocate1D(p);
        using var dg = cpu.Allocate1D(g);
        using var dm = cpu.Allocate1D<float>(n);
        using var dv = cpu.Allocate1D<float>(n);
        dm.MemSetToZero();
        dv.MemSetToZero();
        table.Prepare(1, 1e-3, stream);
        using var work = new ReplayableWork(stream, () => table.Launch(dp.View, dg.View, dm.View, dv.View, n, stream));
        Assert.That(work.IsGraph, Is.False);
        Assert.That(work.Path, Does.StartWith("plain launches").And.Contain("cpu"));

        // Three runs are three Adam steps (t = 1, 2, 3), as the same kernel enqueued on the default stream computes them.
        var kernels = TestAccelerator.Kernels(Schedule.Cpu);
        using var expected = new AdamStepTable(cpu, kernels.Transfers, 4, 0.9, 0.999, 1e-8);
        using var ep = cpu.Allocate1D(p);
        using var em = cpu.Allocate1D<float>(n);
        using var ev = cpu.Allocate1D<float>(n);
        em.MemSetToZero();
        ev.MemSetToZero();
        for (int t = 1; t <= 3; t++)
        {
            work.Run();
            table.Advanced();
            expected.Apply(t, 1e-3, ep.View, dg.View, em.View, ev.View, n);
        }
        stream.Synchronize();
        Assert.That(dp.GetAsArray1D(), Is.EqualTo(ep.GetAsArray1D()), $"seed {seed}");
        Assert.That(dv.GetAsArray1D(), Is.EqualTo(ev.GetAsArray1D()), $"seed {seed}");
        Assert.That(dp.GetAsArray1D(), Is.Not.EqualTo(p), "the runs moved the parameters");
    }

    [Test]
    public void TryCaptureRefusesAStreamThatIsNotCuda()
    {
        using var stream = TestAccelerator.Cpu.CreateStream();
        bool ran = false;
        var graph = CudaGraph.TryCapture(stream, () => ran = true, out string reason);
        Assert.That(graph, Is.Null);
        Assert.That(reason, Does.Contain("not a CUDA stream"));
        Assert.That(ran, Is.False, "nothing is enqueued when there is no capture");
    }
}
