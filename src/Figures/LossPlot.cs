using System.Globalization;
using GpuAutoencoder.Training.IO;
using SkiaSharp;

namespace GpuAutoencoder.Figures;

/// <summary>One curve; Values[i] belongs to epoch i + 1.</summary>
public sealed record Series(string Name, IReadOnlyList<double> Values);

/// <summary>Loss-per-epoch line chart as PNG, drawn directly with SkiaSharp so the tool needs no
/// Python or plotting service.</summary>
public static class LossPlot
{
    // Matplotlib's default cycle: familiar, and distinguishable for common colour-vision deficiencies.
    static readonly SKColor[] Palette = [.. new[] { "1f77b4", "ff7f0e", "2ca02c", "d62728", "9467bd", "8c564b", "e377c2", "7f7f7f", "bcbd22", "17becf" }.Select(h => SKColor.Parse(h))];

    static SKTypeface Typeface => Fonts.Sans;

    const int MarkerLimit = 30; // beyond this many epochs markers merge into a blob

    public static void Save(string path, string title, IReadOnlyList<Series> series, bool logY = true, int width = 900, int height = 560) =>
        AtomicFile.WriteAllBytes(path, Render(title, series, logY, width, height));

    public static byte[] Render(string title, IReadOnlyList<Series> series, bool logY = true, int width = 900, int height = 560)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 240);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 180);
        using var tickFont = new SKFont(Typeface, 13);
        using var labelFont = new SKFont(Typeface, 15);
        using var titleFont = new SKFont(Typeface, 18) { Embolden = true };
        // Shrink a long title rather than let it run off the image.
        while (titleFont.Size > 8 && titleFont.MeasureText(title) > width - 20) titleFont.Size -= 1;

        int epochs = Math.Max(1, series.Select(s => s.Values.Count).DefaultIfEmpty(0).Max());
        var x = Axis.Linear(epochs == 1 ? 0.5 : 1, epochs == 1 ? 1.5 : epochs, integers: true);
        var values = series.SelectMany(s => s.Values).Where(double.IsFinite).ToList();
        // Log scale cannot show zero or negative losses; fall back to linear when nothing is positive.
        var y = logY && values.Any(v => v > 0) ? Axis.Log(values.Where(v => v > 0)) : Axis.Linear(values, integers: false);

        float tickH = Height(tickFont), labelH = Height(labelFont);
        float maxTickW = y.Labels.Select(t => tickFont.MeasureText(t.Text)).DefaultIfEmpty(0).Max();
        var plot = new SKRect(
            12 + labelH + 10 + maxTickW + 8,
            12 + Height(titleFont) + 14,
            width - Math.Max(24, tickFont.MeasureText(x.Labels[^1].Text) / 2 + 8),
            height - (8 + tickH + 10 + labelH + 12));
        float Px(double v) => plot.Left + (float)x.Fraction(v) * plot.Width;
        float Py(double v) => plot.Bottom - (float)y.Fraction(v) * plot.Height;

        using var bitmap = new SKBitmap(width, height);
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true, StrokeWidth = 1 };
        using var grid = new SKPaint { Color = new SKColor(0xe4, 0xe4, 0xe4), StrokeWidth = 1 };
        using var minorGrid = new SKPaint { Color = new SKColor(0xf3, 0xf3, 0xf3), StrokeWidth = 1 };
        using var gray = new SKPaint { Color = new SKColor(0x55, 0x55, 0x55), IsAntialias = true };

        foreach (var v in y.Minor) canvas.DrawLine(plot.Left, Py(v), plot.Right, Py(v), minorGrid);
        foreach (var t in y.Labels) canvas.DrawLine(plot.Left, Py(t.Value), plot.Right, Py(t.Value), t.Major ? grid : minorGrid);
        foreach (var t in x.Labels) canvas.DrawLine(Px(t.Value), plot.Top, Px(t.Value), plot.Bottom, grid);

        foreach (var t in x.Labels)
        {
            canvas.DrawLine(Px(t.Value), plot.Bottom, Px(t.Value), plot.Bottom + 5, ink);
            canvas.DrawText(t.Text, Px(t.Value), plot.Bottom + 8 + tickH - tickFont.Metrics.Descent, SKTextAlign.Center, tickFont, ink);
        }
        foreach (var t in y.Labels)
        {
            canvas.DrawLine(plot.Left - (t.Major ? 5 : 3), Py(t.Value), plot.Left, Py(t.Value), ink);
            canvas.DrawText(t.Text, plot.Left - 8, Baseline(Py(t.Value), tickFont), SKTextAlign.Right, tickFont, t.Major ? ink : gray);
        }
        foreach (var v in y.Minor) canvas.DrawLine(plot.Left - 3, Py(v), plot.Left, Py(v), ink);

        canvas.Save();
        canvas.ClipRect(SKRect.Inflate(plot, 4, 4));
        for (int s = 0; s < series.Count; s++) DrawSeries(canvas, series[s].Values, Color(s), Px, Py, y.CanShow, epochs <= MarkerLimit);
        canvas.Restore();

        using var frame = new SKPaint { Color = SKColors.Black, Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
        canvas.DrawRect(plot, frame);
        canvas.DrawText("epoch", plot.MidX, height - 12 - labelFont.Metrics.Descent, SKTextAlign.Center, labelFont, ink);
        canvas.Save();
        canvas.RotateDegrees(-90, 12 - labelFont.Metrics.Ascent, plot.MidY);
        canvas.DrawText("MSE loss", 12 - labelFont.Metrics.Ascent, plot.MidY, SKTextAlign.Center, labelFont, ink);
        canvas.Restore();
        canvas.DrawText(title, width / 2f, 12 - titleFont.Metrics.Ascent, SKTextAlign.Center, titleFont, ink);
        DrawLegend(canvas, series, plot, tickFont, epochs <= MarkerLimit);

        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    static void DrawSeries(SKCanvas canvas, IReadOnlyList<double> values, SKColor color, Func<double, float> px, Func<double, float> py, Func<double, bool> canShow, bool markers)
    {
        using var line = new SKPaint { Color = color, IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeWidth = 2, StrokeJoin = SKStrokeJoin.Round };
        using var dot = new SKPaint { Color = color, IsAntialias = true };
        using var path = new SKPath();
        bool pen = false;
        for (int i = 0; i < values.Count; i++)
        {
            // A value the axis cannot show breaks the line instead of dragging it to the edge.
            if (!canShow(values[i])) { pen = false; continue; }
            var p = new SKPoint(px(i + 1), py(values[i]));
            if (pen) path.LineTo(p); else path.MoveTo(p);
            pen = true;
            // An isolated point has no line through it, so it always gets a marker.
            bool isolated = (i == 0 || !canShow(values[i - 1])) && (i == values.Count - 1 || !canShow(values[i + 1]));
            if (markers || isolated) canvas.DrawCircle(p, 3.5f, dot);
        }
        canvas.DrawPath(path, line);
    }

    static void DrawLegend(SKCanvas canvas, IReadOnlyList<Series> series, SKRect plot, SKFont font, bool markers)
    {
        if (series.Count == 0) return;
        float row = font.Spacing + 4, width = 36 + series.Max(s => font.MeasureText(s.Name)) + 10;
        var box = new SKRect(plot.Right - 10 - width, plot.Top + 10, plot.Right - 10, plot.Top + 10 + 8 + row * series.Count);
        using var fill = new SKPaint { Color = SKColors.White.WithAlpha(230) };
        using var border = new SKPaint { Color = new SKColor(0xbb, 0xbb, 0xbb), Style = SKPaintStyle.Stroke };
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        canvas.DrawRect(box, fill);
        canvas.DrawRect(box, border);
        for (int s = 0; s < series.Count; s++)
        {
            float cy = box.Top + 4 + row * (s + 0.5f);
            using var line = new SKPaint { Color = Color(s), IsAntialias = true, StrokeWidth = 2 };
            canvas.DrawLine(box.Left + 6, cy, box.Left + 28, cy, line);
            if (markers) canvas.DrawCircle(box.Left + 17, cy, 3.5f, line);
            canvas.DrawText(series[s].Name, box.Left + 36, Baseline(cy, font), SKTextAlign.Left, font, ink);
        }
    }

    static SKColor Color(int i) => Palette[i % Palette.Length];
    static float Height(SKFont f) => f.Metrics.Descent - f.Metrics.Ascent;
    static float Baseline(float centerY, SKFont f) => centerY - (f.Metrics.Ascent + f.Metrics.Descent) / 2;

    sealed record Tick(double Value, string Text, bool Major);

    /// <summary>Range, labelled ticks and unlabelled minor ticks of one axis.</summary>
    sealed record Axis(double Min, double Max, bool IsLog, List<Tick> Labels, List<double> Minor)
    {
        public double Fraction(double v) => IsLog
            ? (Math.Log10(v) - Math.Log10(Min)) / (Math.Log10(Max) - Math.Log10(Min))
            : (v - Min) / (Max - Min);

        public bool CanShow(double v) => double.IsFinite(v) && (!IsLog || v > 0);

        public static Axis Linear(IEnumerable<double> values, bool integers)
        {
            var list = values.ToList();
            if (list.Count == 0) return Linear(0, 1, integers);
            double lo = list.Min(), hi = list.Max();
            // A flat curve still needs a non-empty range to be drawn in.
            if (lo == hi) (lo, hi) = (lo - Math.Max(Math.Abs(lo) * 0.1, 1e-3), hi + Math.Max(Math.Abs(hi) * 0.1, 1e-3));
            double step = NiceStep(hi - lo);
            return Linear(Math.Floor(lo / step) * step, Math.Ceiling(hi / step) * step, integers);
        }

        public static Axis Linear(double min, double max, bool integers)
        {
            double step = NiceStep(max - min);
            if (integers) step = Math.Max(1, Math.Round(step));
            var ticks = new List<Tick>();
            for (double v = Math.Ceiling(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step)
                ticks.Add(new(v, Format(Math.Abs(v) < step * 1e-9 ? 0 : v), true));
            return new(min, max, false, ticks, []);
        }

        /// <summary>Whole decades, with 2 and 5 labelled when few decades leave room for them.</summary>
        public static Axis Log(IEnumerable<double> positive)
        {
            var list = positive.ToList();
            int lo = (int)Math.Floor(Math.Log10(list.Min())), hi = (int)Math.Ceiling(Math.Log10(list.Max()));
            if (hi == lo) hi++;
            var labels = new List<Tick>();
            var minor = new List<double>();
            for (int k = lo; k <= hi; k++)
            {
                labels.Add(new(Math.Pow(10, k), Format(Math.Pow(10, k)), true));
                if (k == hi) break;
                for (int m = 2; m <= 9; m++)
                {
                    double v = m * Math.Pow(10, k);
                    if ((m is 2 or 5) && hi - lo <= 3) labels.Add(new(v, Format(v), false));
                    else minor.Add(v);
                }
            }
            return new(Math.Pow(10, lo), Math.Pow(10, hi), true, labels, minor);
        }

        /// <summary>1, 2 or 5 times a power of ten, giving about five intervals.</summary>
        static double NiceStep(double span)
        {
            double raw = span / 5, magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw))), norm = raw / magnitude;
            return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
        }

        // G6 removes floating-point noise such as 0.30000000000000004.
        static string Format(double v) => v.ToString("G6", CultureInfo.InvariantCulture).Replace("E", "e");
    }
}
