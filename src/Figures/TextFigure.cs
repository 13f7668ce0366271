using GpuAutoencoder.Training.IO;
using SkiaSharp;

namespace GpuAutoencoder.Figures;

/// <summary>Lines of monospaced text as a PNG, for the torchsummary table, which is text in the lab's notebook too.</summary>
public static class TextFigure
{
    const int Pad = 14;

    public static void Save(string path, IReadOnlyList<string> lines, float fontSize = 14) =>
        AtomicFile.WriteAllBytes(path, Render(lines, fontSize));

    public static byte[] Render(IReadOnlyList<string> lines, float fontSize = 14)
    {
        using var font = new SKFont(Fonts.Mono, fontSize);
        float lineHeight = MathF.Ceiling(font.Spacing);
        int width = (int)MathF.Ceiling(lines.Select(l => font.MeasureText(l)).DefaultIfEmpty(0).Max()) + 2 * Pad;
        int height = (int)(lines.Count * lineHeight) + 2 * Pad;
        using var bitmap = new SKBitmap(width, height);
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        for (int i = 0; i < lines.Count; i++)
            canvas.DrawText(lines[i], Pad, Pad + i * lineHeight - font.Metrics.Ascent, SKTextAlign.Left, font, ink);
        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
