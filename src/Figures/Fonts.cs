using GpuAutoencoder.Training.IO;
using SkiaSharp;

namespace GpuAutoencoder.Figures;

/// <summary>
/// The faces every figure uses: DejaVu Sans and Sans Mono, shipped inside gpuae (free licence in
/// Fonts/LICENSE-DejaVu.txt). Asking the system instead drew figures without any text on a GPU
/// server with no fonts installed, which is where training runs.
/// </summary>
public static class Fonts
{
    public static readonly SKTypeface Sans = Load("DejaVuSans.ttf");
    public static readonly SKTypeface Mono = Load("DejaVuSansMono.ttf");

    static readonly Lazy<string> scottPlotSans = new(() =>
    {
        // ScottPlot only takes font files by path, so the shipped face is written out once per version.
        string dir = Path.Combine(Path.GetTempPath(), $"gpuae-fonts-{typeof(Fonts).Assembly.GetName().Version}");
        string path = Path.Combine(dir, "DejaVuSans.ttf");
        if (!File.Exists(path))
        {
            using var font = Resource("DejaVuSans.ttf");
            AtomicFile.Write(path, font.CopyTo);
        }
        const string name = "gpuae Sans";
        ScottPlot.Fonts.AddFontFile(name, path);
        return name;
    });

    /// <summary>The family name under which <see cref="Sans"/> is registered with ScottPlot.</summary>
    public static string ScottPlotSans => scottPlotSans.Value;

    static SKTypeface Load(string file)
    {
        using var stream = Resource(file);
        return SKTypeface.FromStream(stream) ?? throw new InvalidDataException($"the shipped font {file} did not load");
    }

    static Stream Resource(string file) =>
        typeof(Fonts).Assembly.GetManifestResourceStream($"GpuAutoencoder.Fonts.{file}")
        ?? throw new InvalidOperationException($"font {file} is not embedded in {typeof(Fonts).Assembly.GetName().Name}");

    /// <summary>Shrinks the font until the text fits the width, so a long label is never clipped.</summary>
    public static void FitWidth(SKFont font, string text, float width, float minSize = 7)
    {
        while (font.Size > minSize && font.MeasureText(text) > width) font.Size -= 0.5f;
    }

    public static float Baseline(float centerY, SKFont f) => centerY - (f.Metrics.Ascent + f.Metrics.Descent) / 2;
}
