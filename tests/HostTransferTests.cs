using System.Text.RegularExpressions;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>
/// Host↔device copies are counted where they happen, and training makes only the copies its
/// design allows: none inside a step, the permutation up and the losses down once per epoch.
/// </summary>
public class HostTransferTests
{
    // The images only need to be some images: their values change no count asserted here.
    static int Seed => TestSeed.Current;
    static DeviceKernels Kernels => TestAccelerator.Kernels(Schedule.Cpu);

    static DeviceTrainer Trainer(int count, int batch, bool shuffle) =>
        new(Kernels, new ParameterLayout(new Architecture()), TestImages.Synthetic(count, Seed), count,
            new TrainingOptions { BatchSize = batch, Shuffle = shuffle, Epochs = 2, Seed = 3 },
            new ParameterLayout(new Architecture()).Initialize(3));

    [Test]
    public void CountsEveryByteAndCallInBothDirections()
    {
        var transfers = Kernels.Transfers;
        var before = transfers.Count;
        using var buffer = transfers.Allocate(Enumerable.Range(0, 10).Select(i => (float)i).ToArray());
        transfers.Upload(buffer.View.SubView(2, 3), [20f, 30f, 40f]);
        var tail = transfers.Download(buffer.View.SubView(1, 5));
        var all = transfers.Download(buffer);

        Assert.That(tail, Is.EqualTo(new[] { 1f, 20f, 30f, 40f, 5f }));
        Assert.That(all, Has.Length.EqualTo(10));
        Assert.That(transfers.Count - before, Is.EqualTo(new TransferCount(BytesToDevice: 4 * (10 + 3), BytesFromDevice: 4 * (5 + 10), Uploads: 2, Downloads: 2)));
    }

    [Test]
    public void RefusesCopiesBetweenDifferentLengthsAndCountsNothing()
    {
        var transfers = Kernels.Transfers;
        using var buffer = Kernels.Accelerator.Allocate1D<float>(4);
        var before = transfers.Count;
        Assert.Throws<ArgumentException>(() => transfers.Upload(buffer.View.AsContiguous(), new float[5]));
        Assert.Throws<ArgumentException>(() => transfers.Download(buffer.View.AsContiguous(), new float[3]));
        Assert.That(transfers.Count - before, Is.EqualTo(default(TransferCount)));
    }

    [Test]
    public void TrainingStepsCopyNothing()
    {
        const int count = 300, batch = 128;
        using var trainer = Trainer(count, batch, shuffle: true);
        // Adam's step scalars go up before the steps, as TrainEpoch does beside the permutation.
        trainer.PrepareSteps(1e-3);
        var before = Kernels.Transfers.Count;
        // Whole batches and the partial last one, through the step training runs.
        for (int first = 0; first < count; first += batch)
            trainer.TrainBatch(Math.Min(batch, count - first), 1e-3);
        Kernels.Stream.Synchronize();
        Assert.That(Kernels.Transfers.Count - before, Is.EqualTo(default(TransferCount)), "copies inside the training step");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void AnEpochCopiesThePermutationAndAdamsStepTableUpAndItsLossesDown(bool shuffle)
    {
        const int count = 300, batch = 128, batches = 3;
        using var trainer = Trainer(count, batch, shuffle);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var before = Kernels.Transfers.Count;
            trainer.TrainEpoch(epoch);
            // The step table holds two floats per step, for at least 512 steps; the learning rate
            // changes every epoch, so every epoch uploads a new one.
            const int tableBytes = 2 * sizeof(float) * 512;
            var expected = new TransferCount(
                BytesToDevice: (shuffle ? sizeof(int) * count : 0) + tableBytes, BytesFromDevice: sizeof(float) * batches,
                Uploads: (shuffle ? 1 : 0) + 1, Downloads: 1);
            Assert.That(Kernels.Transfers.Count - before, Is.EqualTo(expected), $"epoch {epoch + 1}");
        }
    }

    [Test]
    public void TheTestMonitorReadsBackOneNumberPerMeasurement()
    {
        const int count = 130;
        var layout = new ParameterLayout(new Architecture());
        using var trainer = Trainer(200, 64, shuffle: false);
        using var monitor = new TestSetMonitor(Kernels, layout, TestImages.Synthetic(count, Seed + 1), count);
        var before = Kernels.Transfers.Count;
        double mse = monitor.Measure(trainer.Parameters);
        Assert.That(mse, Is.GreaterThan(0));
        Assert.That(Kernels.Transfers.Count - before, Is.EqualTo(new TransferCount(0, sizeof(float), 0, 1)));
    }

    /// <summary>A copy that does not go through <see cref="HostTransfers"/> would not be counted, so none may exist.</summary>
    [Test]
    public void OnlyHostTransfersCallsIlgpusCopyMethods()
    {
        // ILGPU's host copies, and Allocate1D(array), which copies the array up (Allocate1D<T>(length) does not).
        var copy = new Regex(@"\.(CopyFromCPU|CopyToCPU|GetAsArray1D|GetAsArray|CopyFromPageLocked\w*|CopyToPageLocked\w*|CopyFromCPUUnsafeAsync|CopyToCPUUnsafeAsync)\b|\.Allocate1D\(");
        var src = Path.Combine(TestPaths.RepoRoot, "src");
        var files = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") &&
                        !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .ToList();
        Assert.That(files.Select(Path.GetFileName), Does.Contain("HostTransfers.cs"), "the scan must see the sources");
        var offenders = files
            .Where(f => Path.GetFileName(f) != "HostTransfers.cs")
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => copy.IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(src, x.f)}:{x.i + 1}: {x.line.Trim()}")
            .ToList();
        Assert.That(offenders, Is.Empty, "host copies outside HostTransfers");
    }
}
