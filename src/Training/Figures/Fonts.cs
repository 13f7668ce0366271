using SkiaSharp;

namespace GpuAutoencoder.Training.Figures;

/// <summary>The faces every figure uses. SKTypeface.Default is a serif face on Debian, so sans and
/// monospace faces are asked for by name, falling back to the default where none is installed.</summary>
public static class Fonts
{
    public static readonly SKTypeface Sans = Match("DejaVu Sans", "Liberation Sans", "Arial", "Helvetica");
    public static readonly SKTypeface Mono = Match("DejaVu Sans Mono", "Liberation Mono", "Consolas", "Courier New");

    static SKTypeface Match(params string[] families) =>
        families.Select(f => SKFontManager.Default.MatchFamily(f)).FirstOrDefault(t => t != null) ?? SKTypeface.Default;

    /// <summary>Shrinks the font until the text fits the width, so a long label is never clipped.</summary>
    public static void FitWidth(SKFont font, string text, float width, float minSize = 7)
    {
        while (font.Size > minSize && font.MeasureText(text) > width) font.Size -= 0.5f;
    }

    public static float Baseline(float centerY, SKFont f) => centerY - (f.Metrics.Ascent + f.Metrics.Descent) / 2;
}
