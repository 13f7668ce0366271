using System.Text.Json;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training.Model;
using SkiaSharp;

namespace GpuAutoencoder.Tests;

/// <summary>The main job, end to end through the command line, at a size CI can afford.</summary>
public class CliSmokeTests
{
    [Test]
    public void TrainWritesWeightsMetricsAndPlotAndTheLossFalls()
    {
        string dir = TestPaths.TempDir("smoke");
        try
        {
            string weights = Path.Combine(dir, "weights.safetensors"), plot = Path.Combine(dir, "curve.png"), outDir = Path.Combine(dir, "run");
            // Batches of 768 leave a partial last batch of 464.
            var r = Gpuae.Run("train", "--accelerator", "cpu", "--limit", "2000", "--batch", "768", "--epochs", "2",
                "--data", TestData.Mnist, "--out", outDir, "-s", weights, "-p", plot);
            Assert.That(r.Exit, Is.EqualTo(0), r.ToString());
            Assert.That(r.Out, Does.Contain("622,504 parameters"));
            Assert.That(r.Out, Does.Contain("accelerator: cpu"));

            // -s and -p put the weights and the plot where the lab's flags say.
            var (layout, flat, _) = ModelFile.Load(weights);
            Assert.That(layout.Architecture.ParameterCount, Is.EqualTo(622_504));
            Assert.That(flat.All(float.IsFinite));
            using (var image = SKBitmap.Decode(plot))
                Assert.That(image, Is.Not.Null, "the loss plot is not a PNG");

            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
            var epochs = metrics.RootElement.GetProperty("epochs").EnumerateArray().ToList();
            Assert.That(epochs, Has.Count.EqualTo(2));
            double first = epochs[0].GetProperty("loss").GetDouble(), second = epochs[1].GetProperty("loss").GetDouble();
            Assert.That(second, Is.LessThan(first), "the loss did not fall");
            Assert.That(metrics.RootElement.GetProperty("config").GetProperty("images").GetInt32(), Is.EqualTo(2000));

            // The data has a test split (generated data too), so train measures the test MSE on the device
            // after each epoch; after the last one it must be what evaluate computes from the saved weights.
            var eval = Gpuae.Run("evaluate", "--accelerator", "cpu", "--model", weights, "--data", TestData.Mnist, "--json");
            Assert.That(eval.Exit, Is.EqualTo(0), eval.ToString());
            double evaluated = JsonDocument.Parse(eval.Out).RootElement.GetProperty("test_mse").GetDouble();
            Assert.That(epochs[1].GetProperty("test_mse").GetDouble(), Is.EqualTo(evaluated).Within(1e-6 * evaluated));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
