using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Figures;
using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.Cli;

/// <summary>gpuae report: every figure of a finished run, and report.md embedding them, written into the run's folder.</summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var run = new Option<string>("--run", "-r") { Description = "The run's folder, as train wrote it (model.safetensors, metrics.json).", Required = true };
        var data = CommonOptions.Data();
        var accelerator = CommonOptions.Accelerator();
        var c = new Command("report", "Write every figure for a finished run into its folder, with report.md embedding them.") { run, data, accelerator };
        c.SetAction(p => CommonOptions.Run(p.GetValue(CommonOptions.Verbose), () =>
        {
            Write(p.GetValue(run)!, p.GetValue(data), p.GetValue(accelerator)!);
            return ExitCodes.Ok;
        }));
        return c;
    }

    static void Write(string dir, string? data, string accelerator)
    {
        if (!Directory.Exists(dir)) throw new UsageException($"--run: folder {dir} does not exist");
        string modelPath = Path.Combine(dir, "model.safetensors"), metricsPath = Path.Combine(dir, "metrics.json");
        if (!File.Exists(modelPath)) throw new UsageException($"--run: {dir} has no model.safetensors; is it a finished run?");
        var metrics = File.Exists(metricsPath) ? RunMetrics.Load(metricsPath) : null;

        using var s = new InferenceSession(modelPath, data, "test", accelerator);
        string P(string name) => Path.Combine(dir, name);
        var summary = ModelSummary.Lines(s.Model.Layout.Architecture);
        AtomicFile.WriteAllText(P("summary.txt"), string.Join("\n", summary) + "\n");
        TextFigure.Save(P("summary.png"), summary);
        ImageGrid.Save(P("reconstruct.png"), DigitFigures.Reconstruction(s.Model, s.Set, "test", Enumerable.Range(0, FigureCommands.ReconstructCount).ToList(), s.ModelName));
        ImageGrid.Save(P("denoise.png"), DigitFigures.Denoising(s.Model, s.Set, "test", Enumerable.Range(0, FigureCommands.DenoiseCount).ToList(), s.ModelName,
            NoiseKind.Uniform, FigureCommands.DefaultLevel(NoiseKind.Uniform), 0));
        ImageGrid.Save(P("interpolate.png"), DigitFigures.Interpolation(s.Model, s.Set, "test", FigureCommands.ParsePairs(FigureCommands.DefaultPairs), s.ModelName));
        var evaluation = s.Evaluate(out var codes);
        AtomicFile.WriteAllText(P("evaluate.json"), FigureCommands.EvaluationJson(evaluation, s).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        LatentPlot.Save(P("latent.png"), $"Bottleneck codes of {s.Set.Count} test images, PCA (z={s.Model.Bottleneck}, {s.ModelName})",
            codes, s.Model.Bottleneck, s.Set.Labels);
        if (metrics != null) LossFigure.Save(P("loss.png"), metrics);
        AtomicFile.WriteAllText(P("report.md"), Markdown(metrics, evaluation, summary, s));
        Console.WriteLine($"wrote {P("report.md")} and its figures");
    }

    static string Markdown(RunMetrics? metrics, Evaluation e, IReadOnlyList<string> summary, InferenceSession s)
    {
        var md = new StringBuilder();
        void L(FormattableString? line = null) => md.AppendLine(line?.ToString(CultureInfo.InvariantCulture) ?? "");
        L($"# gpuae run report");
        L();
        if (metrics != null)
        {
            var c = metrics.Config;
            var last = metrics.Epochs.LastOrDefault();
            L($"## Configuration");
            L();
            L($"| setting | value |");
            L($"| --- | --- |");
            L($"| epochs | {c.Epochs} |");
            L($"| batch | {c.Batch} |");
            L($"| bottleneck | {c.Bottleneck} |");
            L($"| learning rate | {c.LearningRate} (× {c.Gamma} per epoch) |");
            L($"| seed | {c.Seed} |");
            L($"| shuffle | {(c.Shuffle ? "yes" : "no")} |");
            L($"| training images | {c.Images} |");
            L($"| initial weights | {c.Init ?? "seeded initialisation"} |");
            L($"| trained on | {metrics.Accelerator} ({metrics.Device}), schedule {metrics.Schedule} |");
            L($"| training time | {metrics.Epochs.Sum(x => x.Seconds):F1} s |");
            if (last != null) L($"| final train loss | {last.Loss:F6} |");
            L();
            L($"![loss](loss.png)");
            L();
        }
        L($"## Evaluation on the test set ({e.Images} images, {s.AcceleratorName})");
        L();
        L($"- test MSE (PyTorch's MSELoss, mean over all pixels): **{e.Mse:F6}**");
        L($"- mean PSNR: {e.MeanPsnrDb:F2} dB");
        var dead = Enumerable.Range(0, e.ActiveUnits.Length).Where(u => !e.ActiveUnits[u]).ToList();
        L($"- active bottleneck units: **{e.ActiveUnitCount} of {e.ActiveUnits.Length}**{(dead.Count > 0 ? $" (dead for every test image: unit {string.Join(", ", dead)})" : "")}");
        L();
        L($"| digit | {string.Join(" | ", Enumerable.Range(0, 10))} |");
        L($"| --- |{string.Concat(Enumerable.Repeat(" --- |", 10))}");
        L($"| MSE | {string.Join(" | ", e.PerDigitMse.Select(v => v.ToString("F4", CultureInfo.InvariantCulture)))} |");
        L($"| images | {string.Join(" | ", e.PerDigitCount)} |");
        L();
        L($"## Model");
        L();
        L($"```");
        foreach (var line in summary) L($"{line}");
        L($"```");
        L();
        foreach (var (title, file) in new[] { ("Reconstructions", "reconstruct.png"), ("Denoising", "denoise.png"), ("Interpolation", "interpolate.png"), ("Latent space", "latent.png") })
        {
            L($"## {title}");
            L();
            L($"![{title}]({file})");
            L();
        }
        return md.ToString();
    }
}
