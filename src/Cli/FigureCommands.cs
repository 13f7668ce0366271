using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Figures;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Cli;

/// <summary>The lab's figures, one command each: summary, reconstruct, denoise, interpolate, evaluate, latent.</summary>
public static class FigureCommands
{
    static Option<string> ModelOption() => new("--model", "-m") { Description = "Weights: safetensors or a torch.save .pth with PyTorch's key names (fc1.weight …), or an autoencoder gpuae exported to .onnx; the bottleneck is read from the shapes.", Required = true };
    static ChoiceOption<MnistSplit> SplitOption() => CommonOptions.Choice("--split", [], "Which MNIST split to use.", MnistSplit.Test, MnistSplit.Test, MnistSplit.Train);
    static Option<string> OutputOption() => new("--output", "-o") { Description = "Where to write the PNG.", Required = true };

    /// <summary>The options of every command that runs a model over a split.</summary>
    sealed record ModelOptions(Option<string> Model, ChoiceOption<MnistSplit> Split, Option<string?> Data, ChoiceOption<AcceleratorKind> Accelerator)
    {
        public static ModelOptions AddTo(Command c)
        {
            var o = new ModelOptions(ModelOption(), SplitOption(), CommonOptions.Data(), CommonOptions.Accelerator());
            c.Options.Add(o.Model);
            c.Options.Add(o.Split);
            c.Options.Add(o.Data);
            c.Options.Add(o.Accelerator);
            return o;
        }

        public InferenceSession Open(ParseResult p) => new(p.GetValue(Model)!, p.GetValue(Data), Split.ValueIn(p), Accelerator.ValueIn(p));
    }

    static void Action(Command c, Func<ParseResult, int> body) =>
        c.SetAction(p => CommonOptions.Run(p.GetValue(CommonOptions.Verbose), () => body(p)));

    public static Command Summary()
    {
        var z = new Option<int>("--bottleneck", "-z") { Description = "Units in the bottleneck layer.", DefaultValueFactory = _ => 8 };
        var model = new Option<string?>("--model", "-m") { Description = "Take the bottleneck from these weights instead of -z." };
        var output = new Option<string?>("--output", "-o") { Description = "Also write the table as a PNG." };
        var c = new Command("summary", "Print the model's layers, parameter counts and sizes, as torchsummary does (the lab's Figure 1).") { z, model, output };
        Action(c, p =>
        {
            var lines = SummaryLines(p.GetValue(model), p.GetValue(z));
            foreach (var line in lines) Console.WriteLine(line);
            if (p.GetValue(output) is { } path) WriteSummary(lines, path);
            return ExitCodes.Ok;
        });
        return c;
    }

    static IReadOnlyList<string> SummaryLines(string? modelPath, int z)
    {
        if (modelPath != null) z = ModelFile.Load(modelPath).Layout.Architecture.Bottleneck;
        if (z < 1) throw new UsageException($"--bottleneck: must be at least 1, got {z}");
        return ModelSummary.Lines(new Architecture(z));
    }

    internal static void WriteSummary(IReadOnlyList<string> lines, string path) => Wrote((f, l) => TextFigure.Save(f, l), path, lines);

    public const int ReconstructCount = 10, DenoiseCount = 6;

    public static Command Reconstruct()
    {
        var (indices, count, output) = (IndicesOption(), CountOption(ReconstructCount), OutputOption());
        var c = new Command("reconstruct", "Draw input | reconstruction pairs, each labelled with its index and per-image MSE.") { indices, count, output };
        var m = ModelOptions.AddTo(c);
        Action(c, p =>
        {
            using var s = m.Open(p);
            WriteReconstruction(s, Indices(p, indices, count, ReconstructCount, s.Set.Count), p.GetValue(output)!);
            return ExitCodes.Ok;
        });
        return c;
    }

    internal static void WriteReconstruction(InferenceSession s, IReadOnlyList<int> indices, string path) =>
        Wrote(ImageGrid.Save, path, DigitFigures.Reconstruction(s.Model, s.Set, s.SplitName, indices, s.ModelName));

    public static Command Denoise()
    {
        var (indices, count, output) = (IndicesOption(), CountOption(DenoiseCount), OutputOption());
        var noise = CommonOptions.Choice("--noise", [], "uniform: + level·U[0,1) (the lab's); gaussian: + N(0, level²).", NoiseKind.Uniform);
        var level = new Option<double?>("--level") { Description = "Noise level: the uniform noise's scale (default 1.0, the lab's) or the Gaussian's σ (default 0.3)." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the noise.", DefaultValueFactory = _ => 0 };
        var c = new Command("denoise", "Add noise to images and draw input | noisy | output triples.") { indices, count, noise, level, seed, output };
        var m = ModelOptions.AddTo(c);
        Action(c, p =>
        {
            var kind = noise.ValueIn(p);
            double noiseLevel = p.GetValue(level) ?? DefaultLevel(kind);
            if (!double.IsFinite(noiseLevel) || noiseLevel < 0)
                throw new UsageException($"--level: must be a finite number of 0 or more, got {noiseLevel}");
            using var s = m.Open(p);
            WriteDenoising(s, Indices(p, indices, count, DenoiseCount, s.Set.Count), new NoiseSettings(kind, noiseLevel, p.GetValue(seed)), p.GetValue(output)!);
            return ExitCodes.Ok;
        });
        return c;
    }

    internal static void WriteDenoising(InferenceSession s, IReadOnlyList<int> indices, NoiseSettings noise, string path) =>
        Wrote(ImageGrid.Save, path, DigitFigures.Denoising(s.Model, s.Set, s.SplitName, indices, s.ModelName, noise));

    public static double DefaultLevel(NoiseKind kind) => kind == NoiseKind.Uniform ? 1.0 : 0.3;

    public static Command Interpolate()
    {
        var pairs = new Option<string>("--pairs") { Description = "Pairs of image indices, A,B;A,B;… (quote the semicolons).", DefaultValueFactory = _ => DefaultPairs };
        var steps = new Option<int>("--steps") { Description = "Decoded points on each line, both ends included.", DefaultValueFactory = _ => DefaultSteps };
        var output = OutputOption();
        var c = new Command("interpolate", "Decode evenly spaced points on the straight line between two images' bottleneck codes.") { pairs, steps, output };
        var m = ModelOptions.AddTo(c);
        Action(c, p =>
        {
            var parsed = ParsePairs(p.GetValue(pairs)!);
            if (p.GetValue(steps) < 2) throw new UsageException($"--steps: must be at least 2 (the two ends), got {p.GetValue(steps)}");
            using var s = m.Open(p);
            foreach (int index in parsed.SelectMany(pair => new[] { pair.A, pair.B }))
                if (index < 0 || index >= s.Set.Count)
                    throw new UsageException($"--pairs: image index {index} is outside the split's 0..{s.Set.Count - 1}");
            WriteInterpolation(s, parsed, p.GetValue(steps), p.GetValue(output)!);
            return ExitCodes.Ok;
        });
        return c;
    }

    internal static void WriteInterpolation(InferenceSession s, IReadOnlyList<(int A, int B)> pairs, int steps, string path) =>
        Wrote(ImageGrid.Save, path, DigitFigures.Interpolation(s.Model, s.Set, s.SplitName, pairs, s.ModelName, steps));

    /// <summary>Three pairs, as the lab showed.</summary>
    public const string DefaultPairs = "1,2;3,4;5,6";
    public const int DefaultSteps = 8;

    public static List<(int A, int B)> ParsePairs(string text)
    {
        var pairs = new List<(int, int)>();
        foreach (var pair in text.Split([';', ' '], StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split(',');
            if (parts.Length != 2 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out int a) || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out int b))
                throw new UsageException($"--pairs: '{pair}' is not two image indices A,B (expected e.g. {DefaultPairs})");
            pairs.Add((a, b));
        }
        if (pairs.Count == 0) throw new UsageException($"--pairs: no pairs given (expected e.g. {DefaultPairs})");
        return pairs;
    }

    public static Command Evaluate()
    {
        var json = new Option<bool>("--json") { Description = "Print the results as one JSON object." };
        var c = new Command("evaluate", "Mean MSE (as PyTorch's MSELoss), mean PSNR, per-digit MSE and active bottleneck units over a split.") { json };
        var m = ModelOptions.AddTo(c);
        Action(c, p =>
        {
            using var s = m.Open(p);
            var e = s.Evaluate(out _);
            Console.WriteLine(p.GetValue(json) ? EvaluationJsonText(e, s) : EvaluationText(e, s));
            return ExitCodes.Ok;
        });
        return c;
    }

    internal static JsonObject EvaluationJson(Evaluation e, InferenceSession s)
    {
        static JsonNode? Num(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;
        var perDigit = new JsonObject();
        for (int d = 0; d < 10; d++) perDigit[d.ToString(CultureInfo.InvariantCulture)] = Num(e.PerDigitMse[d]);
        return new JsonObject
        {
            ["model"] = s.ModelName,
            ["split"] = s.SplitName,
            ["images"] = e.Images,
            ["bottleneck"] = e.ActiveUnits.Length,
            [$"{s.SplitName}_mse"] = e.Mse,
            ["mean_psnr_db"] = e.MeanPsnrDb,
            ["per_digit_mse"] = perDigit,
            ["active_units"] = e.ActiveUnitCount,
            ["dead_units"] = new JsonArray(e.DeadUnits.Select(u => (JsonNode)u).ToArray()),
            ["accelerator"] = s.AcceleratorName,
        };
    }

    internal static string EvaluationText(Evaluation e, InferenceSession s)
    {
        return string.Join(Environment.NewLine,
        [
            $"model: {s.ModelName} (z={e.ActiveUnits.Length}); {s.SplitName} split, {e.Images} images; accelerator {s.AcceleratorName}",
            Inv($"{s.SplitName} MSE (MSELoss, mean over all pixels): {e.Mse:F6}"),
            Inv($"mean PSNR: {e.MeanPsnrDb:F2} dB"),
            "per-digit MSE: " + string.Join("  ", Enumerable.Range(0, 10).Select(d => Inv($"{d}: {e.PerDigitMse[d]:F5}"))),
            $"active bottleneck units: {e.ActiveUnitCount} of {e.ActiveUnits.Length}" +
                DeadUnitsNote(e, "every image"),
        ]);
    }

    /// <summary>" (dead for every image: unit 0, 4)", or nothing when every unit is active.</summary>
    internal static string DeadUnitsNote(Evaluation e, string images) =>
        e.DeadUnits.Count > 0 ? $" (dead for {images}: unit {string.Join(", ", e.DeadUnits)})" : "";

    internal static string EvaluationJsonText(Evaluation e, InferenceSession s) =>
        EvaluationJson(e, s).ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    public static Command Latent()
    {
        var output = OutputOption();
        var c = new Command("latent", "Scatter the split's bottleneck codes, projected to 2-D by PCA, coloured by digit.") { output };
        var m = ModelOptions.AddTo(c);
        Action(c, p =>
        {
            using var s = m.Open(p);
            WriteLatent(s, p.GetValue(output)!);
            return ExitCodes.Ok;
        });
        return c;
    }

    internal static void WriteLatent(InferenceSession s, string path)
    {
        s.Evaluate(out var codes);
        Wrote((f, c) => LatentPlot.Save(f, $"Bottleneck codes of {s.Set.Count} {s.SplitName} images, PCA (z={s.Model.Bottleneck}, {s.ModelName})",
            c, s.Model.Bottleneck, s.Set.Labels), path, codes);
    }

    static Option<string?> IndicesOption() => new("--indices") { Description = "Comma-separated image indices in the split, e.g. 0,1,2." };
    static Option<int?> CountOption(int defaultCount) => new("--count", "-n") { Description = $"Use the first N images of the split (default {defaultCount})." };

    static IReadOnlyList<int> Indices(ParseResult p, Option<string?> indices, Option<int?> count, int defaultCount, int available)
    {
        if (p.GetValue(indices) is { } text)
        {
            if (p.GetValue(count) != null) throw new UsageException("--indices and --count: give one or the other");
            var list = new List<int>();
            foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!int.TryParse(part, CultureInfo.InvariantCulture, out int i) || i < 0 || i >= available)
                    throw new UsageException($"--indices: '{part}' is not an image index in 0..{available - 1}");
                list.Add(i);
            }
            if (list.Count == 0) throw new UsageException("--indices: no index given");
            return list;
        }
        int n = p.GetValue(count) ?? Math.Min(defaultCount, available);
        if (n < 1 || n > available) throw new UsageException($"--count: must be between 1 and {available}, got {n}");
        return Enumerable.Range(0, n).ToList();
    }

    internal static void Wrote<T>(Action<string, T> save, string path, T what)
    {
        save(path, what);
        Console.WriteLine($"wrote {path}");
    }

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
