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

        foreach (var (name, _, offset, length) in layout.Tensors())
            for (int trial = 0; trial < 6; trial++)
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
            }
    }

    [TestCase(37, 8)]
    [TestCase(64, 5)]
    public void OneTrainingStepMatchesReference(int rows, int bottleneck)
    {
        var layout = new ParameterLayout(new Architecture(bottleneck));
        var rng = TestSeed.Random();
        var images = TestImages.Synthetic(rows, rng.Next());
        var initial = layout.Initialize((ulong)rng.NextInt64());
        var options = new TrainingOptions { BatchSize = rows, Bottleneck = bottleneck, Shuffle = false, Epochs = 1 };

        using var trainer = new DeviceTrainer(TestAccelerator.Kernels(Schedule.Cpu), layout, images, rows, options, initial);
        var epoch = trainer.TrainEpoch(0);
        var reference = new ReferenceModel(layout, initial);
        var input = ReferenceModel.Scale(images, 0, rows);
        var (refLoss, refGrads) = reference.LossAndGradients(input, rows);
        reference.TrainStep(input, rows, options.LearningRate, options);

        Assert.That(epoch.Loss, Is.EqualTo(refLoss).Within(1e-5 * refLoss));
        double gradScale = refGrads.Max(Math.Abs);
        Compare.Close(trainer.DownloadGradients(), refGrads, 1e-4 * gradScale, 1e-3, "gradients");

        // Adam's first step moves each parameter by about ±lr·sign(g): where a gradient is within float
        // error of zero its sign, and so the step, is not determined, and only the step size is checked.
        var got = trainer.DownloadParameters();
        for (int i = 0; i < got.Length; i++)
        {
            double tolerance = Math.Abs(refGrads[i]) > 1e-3 * gradScale ? 1e-6 : 2.01 * options.LearningRate;
            if (Math.Abs(got[i] - reference.Parameters[i]) > tolerance)
                Assert.Fail($"parameter {i}: got {got[i]:R}, reference {reference.Parameters[i]:R}, gradient {refGrads[i]:E3}");
        }
    }

    [Test]
    public void ThreeEpochsOn4096ImagesMatchReferenceLosses()
    {
        const int count = 4096;
        var images = TestImages.Training(count);
        var layout = new ParameterLayout(new Architecture());
        var options = new TrainingOptions { Shuffle = false, Epochs = 3, Seed = 7 };
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
