using GpuAutoencoder.Kernels;
using GpuAutoencoder.Diagnostics;

namespace GpuAutoencoder.Tests;

/// <summary>bench validates the kernels it is about to time and refuses to time them on a mismatch.</summary>
public class BenchmarkGateTests
{
    [Test]
    public void AFailedCheckStopsBenchBeforeAnythingIsTimed()
    {
        var kernels = TestAccelerator.Kernels(Schedule.Cpu);
        DeviceKernels? checkedKernels = null;
        var poisoned = new SelfTestRow("matmul Forward v2 blocked", kernels.Schedule.Name, "37x28x44", double.PositiveInfinity, false, "  [0] got NaN\n");
        var ok = new SelfTestRow("adam", kernels.Schedule.Name, "10", 0, true, "");
        var before = kernels.Transfers.Count;

        var e = Assert.Throws<UnvalidatedKernelsException>(() => Benchmark.Run(kernels, steps: 1, batch: 64, check: k =>
        {
            checkedKernels = k;
            return [ok, poisoned];
        }))!;

        Assert.That(checkedKernels, Is.SameAs(kernels), "the check must see the kernels and schedule bench times");
        Assert.That(e.Rows, Does.Contain(poisoned));
        Assert.That(e.Message, Does.StartWith("1 of 2 selftest rows failed"));
        // The trainer bench times uploads its images first: no upload means no trainer, no timing.
        Assert.That(kernels.Transfers.Count - before, Is.EqualTo(default(TransferCount)), "bench went on after a failed check");
    }

    [Test]
    public void APassingCheckLetsBenchTime()
    {
        var kernels = TestAccelerator.Kernels(Schedule.Cpu);
        var r = Benchmark.Run(kernels, steps: 1, batch: 32, check: _ => [new SelfTestRow("adam", kernels.Schedule.Name, "10", 0, true, "")]);
        Assert.That(r.SecondsPerStep, Is.GreaterThan(0));
        Assert.That(r.Phases.Select(p => p.Phase), Is.EqualTo(new[] { "forward", "loss", "backward", "update" }));
        Assert.That(r.HostDeviceBytesPerStep, Is.Zero);
    }
}
