using System.Text.Json;
using GpuAutoencoder.Cli;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>gpuae report: every figure of a run, each drawn exactly as its own command draws it.</summary>
public class ReportTests
{
    [Test]
    public void ReportWritesEveryFigureAsItsOwnCommandDrawsIt()
    {
        string dir = TestPaths.TempDir("report");
        try
        {
            const int count = 300;
            string data = TestData.Folder(Path.Combine(dir, "data"), count);
            File.WriteAllBytes(Path.Combine(data, "t10k-images-idx3-ubyte"), TestData.Images(TestImages.Synthetic(count, 77), count));
            File.WriteAllBytes(Path.Combine(data, "t10k-labels-idx1-ubyte"), TestData.Labels(count));
            string run = Directory.CreateDirectory(Path.Combine(dir, "run")).FullName, model = Path.Combine(run, RunFolder.Model);
            var layout = new ParameterLayout(new Architecture(8));
            var flat = layout.Initialize(5);
            // A large negative bias keeps bottleneck unit 3's ReLU at zero: the report must name it dead.
            flat[layout.Slots[1].BiasOffset + 3] = -100;
            ModelFile.Save(model, layout, flat);
            File.Copy(Path.Combine(TestPaths.RepoRoot, "docs", "gpu-runs", "h200-2026-11-28", "metrics.json"), Path.Combine(run, RunFolder.Metrics));

            var r = Gpuae.Run("report", "--run", run, "--data", data, "--accelerator", "cpu");
            Assert.That(r.Exit, Is.EqualTo(ExitCodes.Ok), r.ToString());
            string[] figures = [ReportCommand.SummaryPng, ReportCommand.Reconstruct, ReportCommand.Denoise, ReportCommand.Interpolate, ReportCommand.Latent, RunFolder.Plot];
            foreach (var file in figures.Append(ReportCommand.SummaryText).Append(ReportCommand.EvaluateJson).Append(ReportCommand.Markdown))
                Assert.That(File.Exists(Path.Combine(run, file)), $"{file} written");
            var markdown = File.ReadAllText(Path.Combine(run, ReportCommand.Markdown));
            foreach (var file in figures.Where(f => f != ReportCommand.SummaryPng))
                Assert.That(markdown, Does.Contain($"]({file})"), $"report.md embeds {file}");

            using var evaluation = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, ReportCommand.EvaluateJson)));
            var dead = evaluation.RootElement.GetProperty("dead_units").EnumerateArray().Select(u => u.GetInt32()).ToList();
            Assert.That(dead, Does.Contain(3));
            Assert.That(markdown, Does.Contain($"dead for every test image: unit {string.Join(", ", dead)})"));

            // Each figure is the one its own command draws with its defaults, byte for byte.
            string other = Path.Combine(dir, "other.png");
            foreach (var (command, file) in new[] { ("reconstruct", ReportCommand.Reconstruct), ("denoise", ReportCommand.Denoise),
                ("interpolate", ReportCommand.Interpolate), ("latent", ReportCommand.Latent) })
            {
                var c = Gpuae.Run(command, "--model", model, "--data", data, "--accelerator", "cpu", "-o", other);
                Assert.That(c.Exit, Is.EqualTo(ExitCodes.Ok), c.ToString());
                Assert.That(File.ReadAllBytes(Path.Combine(run, file)), Is.EqualTo(File.ReadAllBytes(other)), $"{file} is what `{command}` draws");
            }
            var summary = Gpuae.Run("summary", "--model", model, "-o", other);
            Assert.That(summary.Exit, Is.EqualTo(ExitCodes.Ok), summary.ToString());
            Assert.That(File.ReadAllBytes(Path.Combine(run, ReportCommand.SummaryPng)), Is.EqualTo(File.ReadAllBytes(other)), "summary.png is what `summary -o` draws");
            var evaluate = Gpuae.Run("evaluate", "--model", model, "--data", data, "--accelerator", "cpu", "--json");
            Assert.That(evaluate.Out.Trim(), Is.EqualTo(File.ReadAllText(Path.Combine(run, ReportCommand.EvaluateJson)).Trim()), "evaluate.json is what `evaluate --json` prints");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
