using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>Determinism, exact resume and the checkpoint file, on the trainer itself (no CLI).</summary>
public class CheckpointTests
{
    // Four batches an epoch, the last one partial (232 images).
    const int Images = 1000;
    static readonly TrainingOptions Options = new() { BatchSize = 256, Epochs = 4, Seed = 3 };
    static readonly ParameterLayout Layout = new(new Architecture(Options.Bottleneck));
    static readonly Lazy<byte[]> data = new(() => TestImages.Training(Images));
    // The uninterrupted 4-epoch run, shared by the tests that compare against it.
    static readonly Lazy<(TrainerState State, double[] Losses)> uninterrupted = new(() =>
    {
        using var t = Trainer();
        var losses = Enumerable.Range(0, Options.Epochs).Select(e => t.TrainEpoch(e).Loss).ToArray();
        return (t.ExportState(), losses);
    });

    string _dir = "";
    [SetUp] public void SetUp() => _dir = TestPaths.TempDir("checkpoint");
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    static DeviceTrainer Trainer(TrainingOptions? options = null, ulong? initSeed = null) =>
        new(TestAccelerator.Kernels(Schedule.Cpu), Layout, data.Value, Images, options ?? Options,
            Layout.Initialize(initSeed ?? (options ?? Options).Seed)) { ProgressInterval = TimeSpan.Zero };

    static void AssertBitIdentical(TrainerState got, TrainerState expected)
    {
        Assert.That(got.Step, Is.EqualTo(expected.Step), "step");
        Assert.That(got.ShuffleState, Is.EqualTo(expected.ShuffleState), "shuffle state");
        Assert.That((got.Epoch, got.Batch), Is.EqualTo((expected.Epoch, expected.Batch)), "position");
        foreach (var (name, a, b) in new[] { ("parameters", got.Parameters, expected.Parameters), ("adam m", got.AdamM, expected.AdamM), ("adam v", got.AdamV, expected.AdamV) })
        {
            int first = Enumerable.Range(0, a.Length).FirstOrDefault(i => BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i]), -1);
            Assert.That(first, Is.EqualTo(-1), $"{name} differ first at element {first}");
        }
    }

    Checkpoint RoundTrip(TrainerState state)
    {
        var path = Path.Combine(_dir, Checkpoint.FileName);
        new Checkpoint(state, Options, Images, null, "sha", "cpu", "CPUAccelerator", Schedule.Cpu.Name, []).Save(path);
        return Checkpoint.Load(path);
    }

    [Test]
    public void SameSeedAndConfigGiveBitIdenticalWeights()
    {
        var options = Options with { Epochs = 2 };
        TrainerState Run(TrainingOptions o)
        {
            using var t = Trainer(o);
            for (int e = 0; e < o.Epochs; e++) t.TrainEpoch(e);
            return t.ExportState();
        }
        var first = Run(options);
        AssertBitIdentical(Run(options), first);
        // The comparison is able to fail: another seed (initial weights and shuffle), and nothing else, gives other weights.
        Assert.That(Run(options with { Seed = 4 }).Parameters.SequenceEqual(first.Parameters), Is.False, "seed 4 gave the weights of seed 3");
    }

    [Test]
    public void TwoEpochsResumedToFourEqualFourUninterrupted()
    {
        TrainerState half;
        using (var t = Trainer())
        {
            t.TrainEpoch(0);
            t.TrainEpoch(1);
            half = t.ExportState();
        }
        // A trainer built from other weights proves that the import, not the constructor, sets the state.
        using var resumed = Trainer(initSeed: 99);
        resumed.ImportState(RoundTrip(half).State);
        var losses = new[] { resumed.TrainEpoch(2).Loss, resumed.TrainEpoch(3).Loss };

        AssertBitIdentical(resumed.ExportState(), uninterrupted.Value.State);
        Assert.That(losses, Is.EqualTo(uninterrupted.Value.Losses[2..]));
    }

    [Test]
    public void StopInsideAnEpochAndResumeFromItsCheckpointIsBitExact()
    {
        TrainerState stopped;
        using (var t = Trainer())
        {
            t.TrainEpoch(0);
            using var stop = new CancellationTokenSource();
            // Stop is asked for during batch 2 of epoch 2: batch 2 finishes, batch 3 does not start.
            var r = t.TrainEpoch(1, new Progress(p => { if (p.BatchesDone == 2) stop.Cancel(); }), stop.Token);
            Assert.That((r.Complete, r.BatchesDone, r.Batches), Is.EqualTo((false, 2, 4)));
            stopped = t.ExportState();
        }
        Assert.That((stopped.Epoch, stopped.Batch, stopped.Step, stopped.BatchLosses.Length), Is.EqualTo((1, 2, 6L, 2)));

        using var resumed = Trainer(initSeed: 99);
        resumed.ImportState(RoundTrip(stopped).State);
        Assert.That((resumed.Epoch, resumed.BatchInEpoch), Is.EqualTo((1, 2)));
        Assert.That(() => resumed.TrainEpoch(2), Throws.InvalidOperationException, "the open epoch must be finished first");
        var losses = new[] { resumed.TrainEpoch(1).Loss, resumed.TrainEpoch(2).Loss, resumed.TrainEpoch(3).Loss };

        AssertBitIdentical(resumed.ExportState(), uninterrupted.Value.State);
        Assert.That(losses, Is.EqualTo(uninterrupted.Value.Losses[1..]), "the stopped epoch's mean loss includes the batches before the stop");
    }

    [Test]
    public void StopBeforeTheFirstBatchReplaysTheSameShuffle()
    {
        using var t = Trainer();
        t.TrainEpoch(0);
        var r = t.TrainEpoch(1, stop: new CancellationToken(canceled: true));
        Assert.That(r.BatchesDone, Is.Zero);
        // Epoch 2's permutation is already drawn; the state must hand back the generator from before the draw.
        var state = t.ExportState();
        using var resumed = Trainer();
        resumed.ImportState(state);
        for (int e = 1; e < 4; e++) resumed.TrainEpoch(e);
        AssertBitIdentical(resumed.ExportState(), uninterrupted.Value.State);
    }

    [Test]
    public void CheckpointFileRoundTripsEveryField()
    {
        var state = new TrainerState(Layout.Initialize(1), Layout.Initialize(2), Layout.Initialize(3), 12345, ulong.MaxValue - 7, 3, 2, [0.5f, 0.25f]);
        var path = Path.Combine(_dir, "c.safetensors");
        var options = Options with { Limit = 2048, Gamma = 0.9, Shuffle = false, Seed = ulong.MaxValue };
        EpochRecord[] history = [new(1, 0.2, 1e-3, 1.5, 1000), new(2, 0.1, 9e-4, 1.5, 1000)];
        new Checkpoint(state, options, 2048, "init.safetensors", "abc", "cuda", "NVIDIA H200", "gpu-tiled", history).Save(path);

        var c = Checkpoint.Load(path);
        AssertBitIdentical(c.State, state);
        Assert.That(c.State.BatchLosses, Is.EqualTo(state.BatchLosses));
        Assert.That(c.Options, Is.EqualTo(options));
        Assert.That((c.Images, c.Init, c.DatasetSha256, c.Accelerator, c.Device, c.Schedule),
            Is.EqualTo((2048, "init.safetensors", "abc", "cuda", "NVIDIA H200", "gpu-tiled")));
        Assert.That(c.History, Is.EqualTo(history));
        var (_, metadata) = Training.IO.SafeTensors.Read(path);
        Assert.That(metadata["format_version"], Is.EqualTo("1"));
        Assert.That(metadata["lr_schedule"], Does.Contain("\"next_epoch\":3"));
    }

    [TestCase(-100, TestName = "ChecksumCatchesAFlippedBitInTheTensors")]
    [TestCase(40, TestName = "ChecksumCatchesAChangedDigitInTheMetadata")]
    public void ChecksumCatchesCorruption(int offset)
    {
        var path = Path.Combine(_dir, Checkpoint.FileName);
        new Checkpoint(new TrainerState(Layout.Initialize(1), new float[Layout.Length], new float[Layout.Length], 8, 5, 2, 0, []),
            Options, Images, null, "sha", "cpu", "CPU", "cpu-blocked", []).Save(path);
        var bytes = File.ReadAllBytes(path);
        if (offset < 0)
            bytes[^-offset] ^= 0x01;
        else
        {
            // The metadata's step "8" becomes "9": still valid JSON, still a plausible checkpoint.
            int at = System.Text.Encoding.UTF8.GetString(bytes).IndexOf("\"step\":\"8\"", StringComparison.Ordinal);
            Assert.That(at, Is.GreaterThan(0));
            bytes[at + 8] = (byte)'9';
        }
        File.WriteAllBytes(path, bytes);
        Assert.That(() => Checkpoint.Load(path), Throws.TypeOf<CheckpointException>().With.Message.StartsWith(Checkpoint.FileName + ": checksum mismatch"));
    }

    [Test]
    public void NonFiniteLossNamesTheEpochAndBatch()
    {
        // Epoch 1 trains at lr 1e-3; epoch 2 at 1e9, which blows the weights up within a few steps.
        using var t = Trainer(Options with { Gamma = 1e12 });
        Assert.That(double.IsFinite(t.TrainEpoch(0).Loss));
        var e = Assert.Throws<NonFiniteLossException>(() => t.TrainEpoch(1))!;
        Assert.That(e.Epoch, Is.EqualTo(2));
        Assert.That(e.Batch, Is.InRange(2, 4), "batch 1 still runs on the good weights of epoch 1");
        Assert.That(e.Message, Does.Contain($"epoch 2, batch {e.Batch} of 4"));
    }

    [Test]
    public void IlgpuReportsAFailedAllocationAsOutOfMemory()
    {
        // DeviceTrainer turns this exception into a DeviceMemoryException that says how many bytes it needed;
        // this pins down that ILGPU's CPU accelerator raises it rather than crashing or returning garbage.
        Assert.That(() => TestAccelerator.Cpu.Allocate1D<float>(1L << 60), Throws.TypeOf<OutOfMemoryException>());
        Assert.That(DeviceTrainer.DeviceBytes(Layout, 60000, 2048), Is.EqualTo(
            60000L * 784 + 4 * 60000 + 16L * Layout.Length + 4 * 30 + 4 * 2048L * (784 + 392 + 8 + 392 + 784 + 392 + 8 + 392 + 784)
            + 4 + 4)); // the step's loss and the batch cursor
    }
}

/// <summary>Reports on the training thread, so a test can act at an exact batch.</summary>
sealed class Progress(Action<BatchProgress> action) : IProgress<BatchProgress>
{
    public void Report(BatchProgress value) => action(value);
}
