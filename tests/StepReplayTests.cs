using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>
/// The training step as a CUDA graph would replay it: launches that take the same arguments at every
/// batch, the batch and Adam's scalars read from device memory. Off CUDA the replay path launches the
/// same step plainly, and must train exactly as the plain path does, through partial batches, epochs
/// and a resume inside an epoch; on a GPU, gpu-check compares the replayed graph with plain launches.
/// </summary>
public class StepReplayTests
{
    const int Count = 300, Batch = 128;

    static DeviceTrainer Trainer(bool replay) =>
        new(TestAccelerator.Kernels(Schedule.Cpu), new ParameterLayout(new Architecture(bottleneck: 5)), TestImages.Synthetic(Count, TestSeed.Current),
            Count, new TrainingOptions { BatchSize = Batch, Bottleneck = 5, Shuffle = true, Epochs = 2, Seed = (ulong)TestSeed.Current },
            new ParameterLayout(new Architecture(bottleneck: 5)).Initialize((ulong)TestSeed.Current))
        { ReplaySteps = replay, ProgressInterval = TimeSpan.Zero };

    [Test]
    public void TheReplayPathTrainsTheSameWeightsAsPlainLaunches()
    {
        using var replayed = Trainer(replay: true);
        using var plain = Trainer(replay: false);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var (a, b) = (replayed.TrainEpoch(epoch), plain.TrainEpoch(epoch));
            Assert.That(a.Loss, Is.EqualTo(b.Loss), $"epoch {epoch + 1} loss");
        }
        Assert.That(replayed.DownloadParameters(), Is.EqualTo(plain.DownloadParameters()), "weights after 2 epochs of 3 batches (the last partial)");
        Assert.That(replayed.StepPath, Does.StartWith("plain launches").And.Contain("cpu"), "off CUDA the replay path launches plainly, and says why");
        Assert.That(plain.StepPath, Is.EqualTo("plain launches (replay turned off)"));
    }

    /// <summary>
    /// A stop after the first batch leaves the device's batch cursor at 1; a resume in another trainer
    /// must put it there again, or it would train the epoch's first batch twice and miss its last.
    /// </summary>
    [Test]
    public void AResumeInsideAnEpochContinuesAtTheNextBatch()
    {
        using var through = Trainer(replay: true);
        through.TrainEpoch(0);
        var whole = through.TrainEpoch(1);

        using var stopped = Trainer(replay: true);
        stopped.TrainEpoch(0);
        using var stop = new CancellationTokenSource();
        var partial = stopped.TrainEpoch(1, new CancelOnReport(stop), stop.Token);
        Assert.That(partial.BatchesDone, Is.EqualTo(1), "the stop lands after the first batch");

        using var resumed = Trainer(replay: true);
        resumed.ImportState(stopped.ExportState());
        var rest = resumed.TrainEpoch(1);
        Assert.That(rest.Loss, Is.EqualTo(whole.Loss), "the epoch's mean loss over all its batches");
        Assert.That(resumed.DownloadParameters(), Is.EqualTo(through.DownloadParameters()), "weights after the resumed epoch");
    }

    /// <summary>Progress is reported after every batch but an epoch's last (the trainers report at every chance): stop at the first report.</summary>
    sealed class CancelOnReport(CancellationTokenSource stop) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => stop.Cancel();
    }
}
