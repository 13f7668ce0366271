using System.Globalization;
using GpuAutoencoder.Training.IO;
using ScottPlot;
using ScottPlot.TickGenerators;
using SkiaSharp;

namespace GpuAutoencoder.Figures;

/// <summary>One curve; Values[i] belongs to epoch i + 1.</summary>
public sealed record Series(string Name, IReadOnlyList<double> Values);

/// <summary>A rendered loss plot and the pixels of its data area, where the curves are drawn (the legend lies outside it).</summary>
public sealed record LossPlotImage(byte[] Png, SKRectI DataArea);

/// <summary>
/// Loss-per-epoch line chart as PNG, drawn with ScottPlot. ScottPlot 5 has no logarithmic axis, so
/// the log scale is its own recipe: the curves are log10 of the values, the y axis has whole-decade
/// ticks with log-spaced minor ticks, and each tick is labelled with the value 10^tick.
/// </summary>
public static class LossPlot
{
    const int MarkerLimit = 30; // beyond this many epochs markers merge into a blob
    const float MarkerSize = 8, LineWidth = 2;

    public static void Save(string path, string title, IReadOnlyList<Series> series, bool logY = true, int width = 900, int height = 560) =>
        AtomicFile.WriteAllBytes(path, Render(title, series, logY, width, height));

    public static byte[] Render(string title, IReadOnlyList<Series> series, bool logY = true, int width = 900, int height = 560) =>
        Draw(title, series, logY, width, height).Png;

    public static LossPlotImage Draw(string title, IReadOnlyList<Series> series, bool logY = true, int width = 900, int height = 560)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 240);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 180);
        var values = series.SelectMany(s => s.Values).Where(double.IsFinite).ToList();
        // Log scale cannot show zero or negative losses; fall back to linear when nothing is positive.
        bool log = logY && values.Any(v => v > 0);
        int epochs = Math.Max(1, series.Select(s => s.Values.Count).DefaultIfEmpty(0).Max());
        bool markers = epochs <= MarkerLimit;

        var plot = new Plot();
        plot.Font.Set(Fonts.ScottPlotSans);
        var palette = new ScottPlot.Palettes.Category10();
        for (int s = 0; s < series.Count; s++)
        {
            var ys = Plotted(series[s].Values, log);
            var xs = Enumerable.Range(1, ys.Length).Select(e => (double)e).ToArray();
            var color = palette.GetColor(s);
            var line = plot.Add.Scatter(xs, ys, color);
            line.LegendText = series[s].Name;
            line.LineWidth = LineWidth;
            line.MarkerSize = markers ? MarkerSize : 0;
            line.MarkerShape = MarkerShape.FilledCircle;
            // An isolated point has no line through it, so it always gets a marker.
            var isolated = Enumerable.Range(0, ys.Length)
                .Where(i => !double.IsNaN(ys[i]) && (i == 0 || double.IsNaN(ys[i - 1])) && (i == ys.Length - 1 || double.IsNaN(ys[i + 1]))).ToArray();
            if (!markers && isolated.Length > 0)
            {
                var dots = plot.Add.ScatterPoints(isolated.Select(i => xs[i]).ToArray(), isolated.Select(i => ys[i]).ToArray(), color);
                dots.MarkerSize = MarkerSize;
            }
        }

        plot.Title(title, size: FittedTitleSize(title, width));
        plot.Axes.Title.Label.Bold = true;
        plot.XLabel("epoch", size: 15);
        plot.YLabel("MSE loss", size: 15);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.Left.TickLabelStyle.FontSize = 13;
        plot.Axes.Bottom.TickGenerator = new NumericAutomatic { IntegerTicksOnly = true };
        // A little room beyond the first and last epochs, so their markers are not cut in half.
        double margin = epochs == 1 ? 0.5 : 0.02 * (epochs - 1);
        plot.Axes.SetLimitsX(1 - margin, epochs + margin);
        var shown = values.Where(v => !log || v > 0).Select(v => log ? Math.Log10(v) : v).ToList();
        var (lo, hi) = shown.Count > 0 ? (shown.Min(), shown.Max()) : (0, 1);
        if (log)
        {
            // Whole decades at both ends, so the axis always has labelled ticks.
            (lo, hi) = (Math.Floor(lo), Math.Ceiling(hi));
            if (hi == lo) hi++;
            plot.Axes.Left.TickGenerator = new NumericAutomatic
            {
                IntegerTicksOnly = true,
                MinorTickGenerator = new LogMinorTickGenerator { Divisions = 10 },
                LabelFormatter = DecadeLabel,
            };
            plot.Grid.YAxisStyle.MinorLineStyle.Width = 1;
            plot.Grid.YAxisStyle.MinorLineStyle.Color = Colors.Black.WithOpacity(0.05);
            // A hair beyond the end decades, so rounding cannot drop their labels.
            (lo, hi) = (lo - 0.01, hi + 0.01);
        }
        else
        {
            // A flat curve still needs a non-empty range to be drawn in.
            if (lo == hi) (lo, hi) = (lo - Math.Max(Math.Abs(lo) * 0.1, 1e-3), hi + Math.Max(Math.Abs(hi) * 0.1, 1e-3));
            double pad = (hi - lo) * 0.05;
            (lo, hi) = (lo - pad, hi + pad);
        }
        plot.Axes.SetLimitsY(lo, hi);
        plot.Grid.MajorLineColor = Colors.Black.WithOpacity(0.12);

        if (series.Count > 0)
        {
            // Outside the data area, so the legend never covers a curve.
            plot.ShowLegend(Edge.Top);
            plot.Legend.FontSize = 13;
            plot.Legend.OutlineWidth = 0;
            plot.Legend.ShadowColor = Colors.Transparent;
        }

        var png = plot.GetImageBytes(width, height, ImageFormat.Png);
        var d = plot.LastRender.DataRect;
        return new LossPlotImage(png, new SKRectI((int)MathF.Ceiling(d.Left), (int)MathF.Ceiling(d.Top), (int)d.Right, (int)d.Bottom));
    }

    /// <summary>What is drawn for each value: its log10 on a log axis, and NaN, a gap in the curve, where the axis cannot show it.</summary>
    public static double[] Plotted(IReadOnlyList<double> values, bool log) =>
        values.Select(v => !double.IsFinite(v) || (log && v <= 0) ? double.NaN : log ? Math.Log10(v) : v).ToArray();

    /// <summary>The label of the tick at log10 value <paramref name="exponent"/>: the plain value 10^exponent ("0.01", not "-2").</summary>
    // G6 removes floating-point noise such as 0.30000000000000004.
    public static string DecadeLabel(double exponent) =>
        Math.Pow(10, exponent).ToString("G6", CultureInfo.InvariantCulture).Replace("E", "e");

    /// <summary>The title's font size, shrunk until a long title fits the image.</summary>
    static float FittedTitleSize(string title, int width)
    {
        using var font = new SKFont(Fonts.Sans, 18) { Embolden = true };
        Fonts.FitWidth(font, title, width - 20, minSize: 8);
        return font.Size;
    }
}
