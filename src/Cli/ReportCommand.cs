using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Figures;
using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.Cli;

/// <summary>
/// gpuae report: every figure of a finished run, and report.md embedding them, written into the run's
/// folder. Each figure is drawn by its own command's code, with that command's defaults.
/// </summary>
public static class ReportCommand
{
    public const string Markdown = "report.md", SummaryText = "summary.txt", SummaryPng = "summary.png", Reconstruct = "reconstruct.png",
        Denoise = "denoise.png", Interpolate = "interpolate.png", Latent = "latent.png", EvaluateJson = "evaluate.json";

    public static Command Create()
    {
        var run = new Option<string>("--run", "-r") { Description = $"The run's folder, as train wrote it ({RunFolder.Model}, {RunFolder.Metrics}).", Required = true };
        var data = CommonOptions.Data();
        var accelerator = CommonOptions.Accelerator();
        var c = new Command("report", "Write every figure for a finished run into its folder, with report.md embedding them.") { run, data, accelerator };
        c.SetAction(p => CommonOptions.Run(p.GetValue(CommonOptions.Verbose), () =>
        {
            Write(p.GetValue(run)!, p.GetValue(data), accelerator.ValueIn(p));
            return ExitCodes.Ok;
        }));
        return c;
    }

    static void Write(string dir, string? data, AcceleratorKind accelerator)
    {
        if (!Directory.Exists(dir)) throw new UsageException($"--run: folder {dir} does not exist");
        string P(string name) => Path.Combine(dir, name);
        if (!File.Exists(P(RunFolder.Model))) throw new UsageException($"--run: {dir} has no {RunFolder.Model}; is it a finished run?");
        var metrics = File.Exists(P(RunFolder.Metrics)) ? RunMetrics.Load(P(RunFolder.Metrics)) : null;

        using var s = new InferenceSession(P(RunFolder.Model), data, MnistSplit.Test, accelerator);
        var summary = ModelSummary.Lines(s.Model.Layout.Architecture);
        AtomicFile.WriteAllText(P(SummaryText), string.Join("\n", summary) + "\n");
        FigureCommands.WriteSummary(summary, P(SummaryPng));
        FigureCommands.WriteReconstruction(s, [.. Enumerable.Range(0, Math.Min(FigureCommands.ReconstructCount, s.Set.Count))], P(Reconstruct));
        FigureCommands.WriteDenoising(s, [.. Enumerable.Range(0, Math.Min(FigureCommands.DenoiseCount, s.Set.Count))],
            new NoiseSettings(NoiseKind.Uniform, FigureCommands.DefaultLevel(NoiseKind.Uniform), 0), P(Denoise));
        FigureCommands.WriteInterpolation(s, FigureCommands.ParsePairs(FigureCommands.DefaultPairs), FigureCommands.DefaultSteps, P(Interpolate));
        var evaluation = s.Evaluate(out _);
        AtomicFile.WriteAllText(P(EvaluateJson), FigureCommands.EvaluationJsonText(evaluation, s) + "\n");
        FigureCommands.WriteLatent(s, P(Latent));
        if (metrics != null) LossFigure.Save(P(RunFolder.Plot), metrics);
        AtomicFile.WriteAllText(P(Markdown), Report(metrics, evaluation, summary, s));
        Console.WriteLine($"wrote {P(Markdown)} and its figures");
    }

    static string Report(RunMetrics? metrics, Evaluation e, IReadOnlyList<string> summary, InferenceSession s)
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
            L($"![loss]({RunFolder.Plot})");
            L();
        }
        L($"## Evaluation on the test set ({e.Images} images, {s.AcceleratorName})");
        L();
        L($"- test MSE (PyTorch's MSELoss, mean over all pixels): **{e.Mse:F6}**");
        L($"- mean PSNR: {e.MeanPsnrDb:F2} dB");
        L($"- active bottleneck units: **{e.ActiveUnitCount} of {e.ActiveUnits.Length}**{FigureCommands.DeadUnitsNote(e, "every test image")}");
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
        foreach (var (title, file) in new[] { ("Reconstructions", Reconstruct), ("Denoising", Denoise), ("Interpolation", Interpolate), ("Latent space", Latent) })
        {
            L($"## {title}");
            L();
            L($"![{title}]({file})");
            L();
        }
        return md.ToString();
    }
}
