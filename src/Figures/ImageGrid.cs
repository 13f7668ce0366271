using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;
using SkiaSharp;

namespace GpuAutoencoder.Figures;

/// <summary>One 28×28 image in [0, 1] (values outside are clamped) and the line of text under it.</summary>
public sealed record Panel(float[] Pixels, string Label);

/// <summary>
/// A figure of digit images: rows of panels whose columns are grouped (input | output pairs, say)
/// with a wider gap between groups, an optional header over each column, a title and a caption.
/// </summary>
public sealed record GridFigure(string Title, IReadOnlyList<IReadOnlyList<Panel>> Rows, int GroupSize,
    IReadOnlyList<string>? Headers = null, string? Caption = null, int Scale = 4);

/// <summary>
/// Where everything of a <see cref="GridFigure"/> goes, in whole pixels. The bands of text have
/// fixed heights, so the image size is a function of the grid alone and tests can check it.
/// </summary>
public sealed class GridLayout
{
    public const int Pad = 16, Gap = 4, GroupGap = 24, RowGap = 8, TitleBand = 32, HeaderBand = 22, LabelBand = 20, CaptionLine = 18;

    public int Scale { get; }
    public int Cell => Architecture.ImageSide * Scale;
    public int Columns { get; }
    public int RowCount { get; }
    public int GroupSize { get; }
    public bool HasHeaders { get; }
    public IReadOnlyList<string> CaptionLines { get; }
    public int Width { get; }
    public int Height { get; }

    public GridLayout(int rows, int columns, int groupSize, int scale, bool hasHeaders, IReadOnlyList<string> captionLines)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(groupSize, 1);
        // The issue asks for at least 4× nearest-neighbour upscaling, so digits are clearly visible.
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 4);
        (RowCount, Columns, GroupSize, Scale, HasHeaders, CaptionLines) = (rows, columns, groupSize, scale, hasHeaders, captionLines);
        Width = 2 * Pad + Left(columns - 1) + Cell;
        Height = Top(rows) - RowGap + (captionLines.Count > 0 ? 6 + captionLines.Count * CaptionLine : 0) + Pad;
    }

    /// <summary>Groups of <see cref="GroupSize"/> columns are separated by GroupGap, columns within a group by Gap.</summary>
    int Left(int column) => column * (Cell + Gap) + column / GroupSize * (GroupGap - Gap);

    int Top(int row) => Pad + TitleBand + (HasHeaders ? HeaderBand : 0) + row * (Cell + LabelBand + RowGap);

    /// <summary>The pixels of the image in grid cell (row, column).</summary>
    public SKRectI PanelRect(int row, int column)
    {
        int x = Pad + Left(column), y = Top(row);
        return new SKRectI(x, y, x + Cell, y + Cell);
    }
}

public static class ImageGrid
{
    public static void Save(string path, GridFigure figure) => AtomicFile.WriteAllBytes(path, Render(figure));

    public static GridLayout Layout(GridFigure f)
    {
        int columns = f.Rows.Max(r => r.Count);
        // The caption wraps to the width of the grid itself, so the caption never widens the image.
        var probe = new GridLayout(f.Rows.Count, columns, f.GroupSize, f.Scale, f.Headers != null, []);
        using var font = CaptionFont();
        var lines = f.Caption == null ? [] : Wrap(f.Caption, font, probe.Width - 2 * GridLayout.Pad);
        return new GridLayout(f.Rows.Count, columns, f.GroupSize, f.Scale, f.Headers != null, lines);
    }

    public static byte[] Render(GridFigure f)
    {
        var layout = Layout(f);
        using var bitmap = new SKBitmap(layout.Width, layout.Height);
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        using var gray = new SKPaint { Color = new SKColor(0x44, 0x44, 0x44), IsAntialias = true };

        using (var title = new SKFont(Fonts.Sans, 17) { Embolden = true })
        {
            Fonts.FitWidth(title, f.Title, layout.Width - 2 * GridLayout.Pad);
            canvas.DrawText(f.Title, layout.Width / 2f, Fonts.Baseline(GridLayout.Pad + GridLayout.TitleBand / 2f - 2, title), SKTextAlign.Center, title, ink);
        }
        if (f.Headers != null)
            for (int c = 0; c < Math.Min(f.Headers.Count, layout.Columns); c++)
            {
                var r = layout.PanelRect(0, c);
                using var font = new SKFont(Fonts.Sans, 13) { Embolden = true };
                Fonts.FitWidth(font, f.Headers[c], layout.Cell);
                canvas.DrawText(f.Headers[c], r.MidX, Fonts.Baseline(r.Top - GridLayout.HeaderBand / 2f, font), SKTextAlign.Center, font, ink);
            }
        for (int row = 0; row < f.Rows.Count; row++)
            for (int c = 0; c < f.Rows[row].Count; c++)
            {
                var panel = f.Rows[row][c];
                var r = layout.PanelRect(row, c);
                DrawDigit(canvas, panel.Pixels, r, layout.Scale);
                using var font = new SKFont(Fonts.Sans, 12);
                Fonts.FitWidth(font, panel.Label, layout.Cell + GridLayout.Gap);
                canvas.DrawText(panel.Label, r.MidX, Fonts.Baseline(r.Bottom + GridLayout.LabelBand / 2f, font), SKTextAlign.Center, font, ink);
            }
        if (layout.CaptionLines.Count > 0)
        {
            using var font = CaptionFont();
            float y = layout.Height - GridLayout.Pad - layout.CaptionLines.Count * GridLayout.CaptionLine;
            foreach (var line in layout.CaptionLines)
            {
                canvas.DrawText(line, GridLayout.Pad, Fonts.Baseline(y + GridLayout.CaptionLine / 2f, font), SKTextAlign.Left, font, gray);
                y += GridLayout.CaptionLine;
            }
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    /// <summary>White digit on black, as matplotlib's gray colour map shows MNIST; each source pixel becomes a Scale×Scale square.</summary>
    static void DrawDigit(SKCanvas canvas, float[] pixels, SKRectI r, int scale)
    {
        const int side = Architecture.ImageSide;
        if (pixels.Length != side * side) throw new ArgumentException($"a panel needs {side * side} pixels, got {pixels.Length}");
        using var paint = new SKPaint { IsAntialias = false };
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
            {
                paint.Color = Gray(pixels[y * side + x]);
                canvas.DrawRect(r.Left + x * scale, r.Top + y * scale, scale, scale, paint);
            }
    }

    /// <summary>The displayed grey level of a value in [0, 1]; a dataset byte b (stored as b/255) shows as exactly b.</summary>
    public static SKColor Gray(float v)
    {
        byte g = (byte)MathF.Round(Math.Clamp(float.IsNaN(v) ? 0 : v, 0, 1) * 255);
        return new SKColor(g, g, g);
    }

    static SKFont CaptionFont() => new(Fonts.Sans, 13);

    static List<string> Wrap(string text, SKFont font, float width)
    {
        var lines = new List<string>();
        foreach (var paragraph in text.Split('\n'))
        {
            var line = "";
            foreach (var word in paragraph.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var candidate = line.Length == 0 ? word : line + " " + word;
                if (line.Length > 0 && font.MeasureText(candidate) > width)
                {
                    lines.Add(line);
                    line = word;
                }
                else line = candidate;
            }
            lines.Add(line);
        }
        return lines;
    }
}
