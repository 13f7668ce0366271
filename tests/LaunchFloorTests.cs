using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Diagnostics;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>The launches of one training step, recorded through the kernels' recorder: how many, and that recording changes nothing.</summary>
public class LaunchFloorTests
{
    /// <summary>The launches of one batch-2048 step at z = 8 as the GPU schedule sizes them for an H200, by kernel.</summary>
    static Dictionary<string, int> H200StepLaunches(out LaunchFloorTable table)
    {
        table = LaunchFloor.Describe(TestAccelerator.Cpu, Schedule.Gpu, DeviceShape.H200);
        return table.Rows.GroupBy(r => r.Launch.Kernel.Split(" (")[0]).ToDictionary(g => g.Key, g => g.Count());
    }

    [Test]
    public void OneH200StepAtBatch2048IsTwentyTwoLaunches()
    {
        var byKernel = H200StepLaunches(out var table);
        Assert.That(table.Rows, Has.Count.EqualTo(22), table.ToMarkdown());
        Assert.That(byKernel["matmul v3 tiled"], Is.EqualTo(5), "the large products: 2 forward, 2 weight gradients, 1 input gradient");
        Assert.That(byKernel["split-K slab sum"], Is.EqualTo(5), "one for each large product");
        Assert.That(byKernel["matmul v5 narrow output"], Is.EqualTo(2), "into the bottleneck, and its input gradient");
        Assert.That(byKernel["matmul v1 naive"], Is.EqualTo(2), "out of the bottleneck (depth 8), and its input gradient");
        Assert.That(byKernel["matmul v5 weight + bias gradient"], Is.EqualTo(2), "both bottleneck weight gradients, their biases in the same launch");
        Assert.That(byKernel["column sums, last group adds"], Is.EqualTo(1), "the other two bias gradients in one launch");
        Assert.That(byKernel["mse + sigmoid backward + loss sum, a group a row"], Is.EqualTo(1), "the loss, its sum and its gradient in one launch");
        Assert.That(byKernel["end of batch: its loss kept, cursor moved"], Is.EqualTo(1), "the one launch that makes the step replayable: which batch is read from the device");
        // No reduction, and no product at the bottleneck, runs on fewer groups than the H200 has multiprocessors.
        foreach (var r in table.Rows.Where(r => r.Launch.Kernel.StartsWith("column sums") || r.Launch.Kernel.StartsWith("mse") || r.Launch.Kernel.StartsWith("matmul v5")))
            Assert.That(r.Launch.Groups, Is.GreaterThanOrEqualTo(DeviceShape.H200.Multiprocessors), r.Launch.Kernel);
        // 2·(3·620,928 − 307,328) FLOP per image in the products alone, and the two fused bias gradients' additions.
        Assert.That(table.Rows.Where(r => r.Launch.Kernel.StartsWith("matmul")).Sum(r => r.Launch.Flop), Is.EqualTo(3_110_912.0 * 2048 + 2048.0 * (392 + 8)));
    }

    [Test]
    public void LaunchesSizedForAnotherDeviceAreRefusedWhenTheyWouldRun()
    {
        using var kernels = new DeviceKernels(TestAccelerator.Cpu, Schedule.Cpu) { Shape = DeviceShape.H200 };
        using var src = TestAccelerator.Poisoned(12);
        using var dst = TestAccelerator.Poisoned(3);
        Assert.Throws<InvalidOperationException>(() => kernels.ColumnSums(src.View, 4, 3, dst.View));
    }

    [Test]
    public void RecordingAStepChangesNoResultAndListsWhatRan()
    {
        const int rows = 37;
        var (layout, images, initial, options) = OneBatch.Draw(rows);
        float[] Train(LaunchRecorder? recorder)
        {
            using var kernels = new DeviceKernels(TestAccelerator.Cpu, Schedule.Cpu) { Recorder = recorder };
            using var trainer = new DeviceTrainer(kernels, layout, images, rows, options, initial);
            trainer.TrainEpoch(0);
            return trainer.DownloadParameters();
        }
        var recorder = new LaunchRecorder();
        var recorded = Train(recorder);
        Assert.That(recorded, Is.EqualTo(Train(null)));
        Assert.That(recorded, Is.Not.EqualTo(initial), "the step moved the parameters");
        // The CPU schedule: the gather, 4 + 4 + 3 products, the loss and the end of the batch, the four
        // bias gradients in one launch, Adam and its cursor.
        Assert.That(recorder.Launches.Count(l => l.Kernel.StartsWith("matmul")), Is.EqualTo(11));
        Assert.That(recorder.Launches, Has.Count.EqualTo(17));
        Assert.That(recorder.Launches[0].Kernel, Is.EqualTo("batch gather"));
        Assert.That(recorder.Launches[^1].Kernel, Is.EqualTo("adam step cursor"));
    }
}
