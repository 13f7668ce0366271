using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>The training step on the accelerator against the float64 reference, and the reference against calculus.</summary>
public class TrainingTests
{
    [Test]
    public void ReferenceGradientsMatchCentralFiniteDifferences()
    {
        var layout = new ParameterLayout(new Architecture(bottleneck: 3));
        var rng = TestSeed.Random();
        var model = new ReferenceModel(layout, layout.Initialize((ulong)rng.NextInt64()));
        const int rows = 3;
        var input = Enumerable.Range(0, rows * Architecture.Pixels).Select(_ => rng.NextDouble()).ToArray();
        var (_, grads) = model.LossAndGradients(input, rows);

        // A sample behind a dead ReLU compares 0 with 0 and proves nothing, so every tensor is sampled
        // until six samples with a non-zero derivative have been compared (the zero ones are compared too).
        const int wanted = 6, maxDraws = 60;
        foreach (var (name, _, offset, length) in layout.Tensors())
        {
            int nonZero = 0;
            for (int draw = 0; draw < maxDraws && nonZero < wanted; draw++)
            {
                int i = offset + rng.Next(length);
                const double h = 1e-6;
                double saved = model.Parameters[i];
                model.Parameters[i] = saved + h;
                double plus = model.LossAndGradients(input, rows).Loss;
                model.Parameters[i] = saved - h;
                double minus = model.LossAndGradients(input, rows).Loss;
                model.Parameters[i] = saved;
                double numeric = (plus - minus) / (2 * h);
                Assert.That(grads[i], Is.EqualTo(numeric).Within(1e-7 + 1e-4 * Math.Abs(numeric)), $"{name}[{i - offset}]");
                // Rounding leaves about 1e-11 in a central difference of this loss; more is a real slope.
                if (Math.Abs(numeric) > 1e-9) nonZero++;
            }
            Assert.That(nonZero, Is.EqualTo(wanted), $"{name}: only {nonZero} of {maxDraws} samples have a non-zero derivative");
        }
    }

    [TestCase(37, 8)]
    [TestCase(64, 5)]
    public void OneTrainingStepMatchesReference(int rows, int bottleneck)
    {
        var (layout, images, initial, options) = OneBatch.Draw(rows, bottleneck);

        using var trainer = new DeviceTrainer(TestAccelerator.Kernels(Schedule.Cpu), layout, images, rows, options, initial);
        var epoch = trainer.TrainEpoch(0);
        var reference = new ReferenceModel(layout, initial);
        var input = ReferenceModel.Scale(images, 0, rows);
        var (refLoss, refGrads) = reference.LossAndGradients(input, rows);
        reference.TrainStep(input, rows, options.LearningRate, options);

        Assert.That(epoch.Loss, Is.EqualTo(refLoss).Within(1e-5 * refLoss));
        double gradScale = refGrads.Max(Math.Abs);
        Compare.Close(trainer.DownloadGradients(), refGrads, 1e-4 * gradScale, 1e-3, "gradients");

        // Adam's first step moves each parameter by about ±lr·sign(g), so where a gradient is within float
        // error of zero the reference's step can have the other sign. The update is therefore checked
        // against Adam's rule applied, in float64, to the device's own gradients: exactly no move where
        // the gradient is zero, and within 1e-6 everywhere else. Where the gradient is clearly non-zero
        // the parameters must also match the reference's whole step.
        var got = trainer.DownloadParameters();
        var deviceGrads = trainer.DownloadGradients();
        double bc1 = 1 - options.Beta1, bc2Sqrt = Math.Sqrt(1 - options.Beta2);
        int moved = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double g = deviceGrads[i];
            if (g == 0)
            {
                if (got[i] != initial[i])
                    Assert.Fail($"parameter {i} has gradient 0 but moved from {initial[i]:R} to {got[i]:R}");
                continue;
            }
            moved++;
            double m = (1 - options.Beta1) * g, v = (1 - options.Beta2) * g * g;
            double expected = initial[i] - options.LearningRate / bc1 * m / (Math.Sqrt(v) / bc2Sqrt + options.Epsilon);
            if (Math.Abs(got[i] - expected) > 1e-6)
                Assert.Fail($"parameter {i}: got {got[i]:R}, Adam on the device's gradient {g:E3} gives {expected:R}");
            if (Math.Abs(refGrads[i]) > 1e-3 * gradScale && Math.Abs(got[i] - reference.Parameters[i]) > 1e-6)
                Assert.Fail($"parameter {i}: got {got[i]:R}, reference {reference.Parameters[i]:R}, gradient {refGrads[i]:E3}");
        }
        TestContext.Out.WriteLine($"{moved} of {layout.Architecture.ParameterCount} parameters have a non-zero gradient");
        Assert.That(moved, Is.GreaterThan(layout.Architecture.ParameterCount / 4), "a quarter of the parameters at least have a gradient");
    }

    [Test]
    public void OneShuffledEpochMatchesReferenceFedTheSamePermutation()
    {
        const int count = 300, batch = 128; // two whole batches and a partial one of 44
        var images = TestImages.Training(count);
        var layout = new ParameterLayout(new Architecture());
        var options = new TrainingOptions { BatchSize = batch, Epochs = 1, Seed = (ulong)TestSeed.Current };
        var initial = layout.Initialize(options.Seed);
        var kernels = TestAccelerator.Kernels(Schedule.Cpu);

        using var shuffled = new DeviceTrainer(kernels, layout, images, count, options, initial);
        // The epoch's permutation comes from the trainer's shuffle generator, the documented SplitMix64,
        // whose state before the draw the trainer exposes for checkpoints.
        var permutation = new SplitMix64(shuffled.ShuffleState).Permutation(count);
        Assert.That(permutation, Is.Not.EqualTo(Enumerable.Range(0, count)));
        var device = shuffled.TrainEpoch(0);

        var permuted = permutation.SelectMany(i => images.Skip(i * Architecture.Pixels).Take(Architecture.Pixels)).ToArray();
        var reference = new ReferenceModel(layout, initial);
        var losses = new List<double>();
        for (int first = 0; first < count; first += batch)
        {
            int rows = Math.Min(batch, count - first);
            losses.Add(reference.TrainStep(ReferenceModel.Scale(permuted, first, rows), rows, options.LearningRateAt(0), options));
        }
        Assert.That(device.Loss, Is.EqualTo(losses.Average()).Within(1e-4 * losses.Average()), "mean batch loss");

        // The weights follow the reference's too. Three Adam steps move a parameter by about ±3·lr, and
        // where a gradient is within float error of zero the device and the reference can step apart, so
        // the whole update is compared: its distance from the reference's, relative to the update itself.
        double Distance(IReadOnlyList<float> a, IReadOnlyList<double> b) => Math.Sqrt(Enumerable.Range(0, b.Count).Sum(i => (a[i] - b[i]) * (a[i] - b[i])));
        var update = Distance(initial, reference.Parameters);
        var got = shuffled.DownloadParameters();
        double error = Distance(got, reference.Parameters) / update;

        using var unshuffled = new DeviceTrainer(kernels, layout, images, count, options with { Shuffle = false }, initial);
        unshuffled.TrainEpoch(0);
        var inOrder = unshuffled.DownloadParameters();
        double orderError = Distance(inOrder, reference.Parameters) / update;
        TestContext.Out.WriteLine($"update {update:E3}; relative distance from the reference: shuffled {error:E3}, unshuffled {orderError:E3}");
        Assert.That(inOrder, Is.Not.EqualTo(got), "shuffled and unshuffled epochs give the same weights");
        Assert.That(error, Is.LessThan(1e-3), "shuffled weights against the reference fed the same permutation");
        Assert.That(orderError, Is.GreaterThan(10 * error), "the unshuffled run is as close to the reference as the shuffled one");
    }

    [Test]
    public void ThreeEpochsOn4096ImagesMatchReferenceLosses()
    {
        const int count = 4096;
        var images = TestImages.Training(count);
        var layout = new ParameterLayout(new Architecture());
        // Batches of 1000 leave a partial last batch of 96, which the device must train like the others.
        var options = new TrainingOptions { BatchSize = 1000, Shuffle = false, Epochs = 3, Seed = 7 };
        var initial = layout.Initialize(options.Seed);

        using var trainer = new DeviceTrainer(TestAccelerator.Kernels(Schedule.Cpu), layout, images, count, options, initial);
        var reference = new ReferenceModel(layout, initial);
        for (int e = 0; e < options.Epochs; e++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var device = trainer.TrainEpoch(e);
            TestContext.Out.WriteLine($"device epoch {clock.Elapsed.TotalSeconds:F1} s");
            clock.Restart();
            var losses = new List<double>();
            for (int first = 0; first < count; first += options.BatchSize)
            {
                int rows = Math.Min(options.BatchSize, count - first);
                losses.Add(reference.TrainStep(ReferenceModel.Scale(images, first, rows), rows, options.LearningRateAt(e), options));
            }
            TestContext.Out.WriteLine($"reference epoch {clock.Elapsed.TotalSeconds:F1} s");
            TestContext.Out.WriteLine($"epoch {e + 1}: device {device.Loss:R}, reference {losses.Average():R}");
            Assert.That(device.Loss, Is.EqualTo(losses.Average()).Within(1e-4 * losses.Average()), $"epoch {e + 1}");
        }
    }
}
