using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>
/// A whole training step under the GPU schedule (tiled products, version 5 at the bottleneck, the
/// loss and the bias gradients finished by their last group), on a CPU device wide enough for its
/// groups: the loss and every gradient against the float64 reference, and the same weights twice.
/// Slow per FLOP on the CPU, so one small batch.
/// </summary>
public class GpuScheduleStepTests
{
    [Test]
    public void OneGpuScheduleStepMatchesReferenceAndRepeats()
    {
        const int rows = 37;
        var (layout, images, initial, options) = OneBatch.Draw(rows);
        var (refLoss, refGrads) = new ReferenceModel(layout, initial).LossAndGradients(ReferenceModel.Scale(images, 0, rows), rows);
        double gradScale = refGrads.Max(Math.Abs);

        float[]? firstParameters = null;
        for (int run = 0; run < 2; run++)
        {
            var recorder = new LaunchRecorder();
            var kernels = SplitGpuSchedule.Kernels;
            kernels.Recorder = recorder;
            float[] parameters, gradients;
            double loss;
            try
            {
                using var trainer = new DeviceTrainer(kernels, layout, images, rows, options, initial);
                loss = trainer.TrainEpoch(0).Loss;
                (parameters, gradients) = (trainer.DownloadParameters(), trainer.DownloadGradients());
            }
            finally
            {
                kernels.Recorder = null;
            }
            Assert.That(recorder.Launches.Select(l => l.Kernel), Has.Some.StartsWith("matmul v5 weight + bias gradient"), "version 5 ran");
            Assert.That(loss, Is.EqualTo(refLoss).Within(1e-5 * refLoss), $"run {run + 1}: loss");
            Compare.Close(gradients, refGrads, 1e-4 * gradScale, 1e-3, $"run {run + 1}: gradients");
            if (firstParameters == null) firstParameters = parameters;
            else Assert.That(parameters, Is.EqualTo(firstParameters), "the same step twice gives the same weights, bit for bit");
        }
    }
}
