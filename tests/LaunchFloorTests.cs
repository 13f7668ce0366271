using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Diagnostics;
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
    public void OneH200StepAtBatch2048IsThirtyFourLaunches()
    {
        var byKernel = H200StepLaunches(out var table);
        Assert.That(table.Rows, Has.Count.EqualTo(34), table.ToMarkdown());
        Assert.That(byKernel["matmul v3 tiled"], Is.EqualTo(11), "4 forward, 4 weight-gradient and 3 input-gradient products");
        Assert.That(byKernel["column sums"], Is.EqualTo(10), "two stages for the loss and for each of the four bias gradients");
        Assert.That(byKernel["split-K slab sum"], Is.EqualTo(9));
        // 2·(3·620,928 − 307,328) FLOP per image in the products alone.
        Assert.That(table.Rows.Where(r => r.Launch.Kernel.StartsWith("matmul")).Sum(r => r.Launch.Flop), Is.EqualTo(3_110_912.0 * 2048));
    }

    [Test]
    public void LaunchesSizedForAnotherDeviceAreRefusedWhenTheyWouldRun()
    {
        using var kernels = new DeviceKernels(TestAccelerator.Cpu, Schedule.Cpu) { Shape = DeviceShape.H200, Recorder = new LaunchRecorder() };
        using var src = TestAccelerator.Poisoned(12);
        using var dst = TestAccelerator.Poisoned(3);
        Assert.Throws<InvalidOperationException>(() => kernels.ColumnSums(src.View, 4, 3, dst.View));
    }

    [Test]
    public void RecordingAStepChangesNoResultAndListsWhatRan()
    {
        const int rows = 37;
        var layout = new ParameterLayout(new Architecture());
        var rng = TestSeed.Random();
        var images = TestImages.Synthetic(rows, rng.Next());
        var initial = layout.Initialize((ulong)rng.NextInt64());
        var options = new TrainingOptions { BatchSize = rows, Shuffle = false, Epochs = 1 };
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
        // The CPU schedule: the gather, 4 + 4 + 3 products, the loss and its sum, bias sums, Adam and its cursor.
        Assert.That(recorder.Launches.Count(l => l.Kernel.StartsWith("matmul")), Is.EqualTo(11));
        Assert.That(recorder.Launches[0].Kernel, Is.EqualTo("batch gather"));
        Assert.That(recorder.Launches[^1].Kernel, Is.EqualTo("adam step cursor"));
    }
}
