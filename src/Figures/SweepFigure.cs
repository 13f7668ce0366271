using System.Globalization;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Sweep;
using ScottPlot;
using SkiaSharp;

namespace GpuAutoencoder.Figures;

/// <summary>
/// sweep.png: test MSE against bottleneck size on log axes (ScottPlot), one colour per (batch, lr),
/// every seed a point and the median over seeds a line; runs with dead bottleneck units get a ring.
/// Below the plot, the same numbers as a printed table.
/// </summary>
public static class SweepFigure
{
    public static void Save(string path, string title, IReadOnlyList<SweepRow> rows, int width = 1000, int plotHeight = 620) =>
        AtomicFile.WriteAllBytes(path, Render(title, rows, width, plotHeight));

    /// <summary>The (batch, lr) series in a fixed order, each with its rows.</summary>
    public static IReadOnlyList<(string Name, IReadOnlyList<SweepRow> Rows)> Series(IReadOnlyList<SweepRow> rows) =>
        rows.GroupBy(r => (r.Batch, r.LearningRate)).OrderBy(g => g.Key.Batch).ThenBy(g => g.Key.LearningRate)
            .Select(g => (string.Create(CultureInfo.InvariantCulture, $"batch {g.Key.Batch}, lr {g.Key.LearningRate:G4}"),
                (IReadOnlyList<SweepRow>)g.ToList()))
            .ToList();

    public static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    public static byte[] Render(string title, IReadOnlyList<SweepRow> rows, int width = 1000, int plotHeight = 620)
    {
        var plotPng = Plot(title, rows, width, plotHeight);
        var table = Table(rows);
        using var font = new SKFont(Fonts.Mono, 13);
        float lineHeight = MathF.Ceiling(font.Spacing);
        const int pad = 16;
        int tableWidth = (int)MathF.Ceiling(table.Select(l => font.MeasureText(l)).DefaultIfEmpty(0).Max()) + 2 * pad;
        int height = plotHeight + (int)(table.Count * lineHeight) + 2 * pad;
        using var bitmap = new SKBitmap(Math.Max(width, tableWidth), height);
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        using (var plot = SKBitmap.Decode(plotPng)) canvas.DrawBitmap(plot, 0, 0);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        for (int i = 0; i < table.Count; i++)
            canvas.DrawText(table[i], pad, plotHeight + pad + i * lineHeight - font.Metrics.Ascent, SKTextAlign.Left, font, ink);
        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    static byte[] Plot(string title, IReadOnlyList<SweepRow> rows, int width, int height)
    {
        var plot = new Plot();
        plot.Font.Set(Fonts.ScottPlotSans);
        var palette = new ScottPlot.Palettes.Category10();
        var series = Series(rows);
        // ScottPlot draws linear axes; log axes are log10 of the data with ticks labelled in data units.
        for (int s = 0; s < series.Count; s++)
        {
            var (name, members) = series[s];
            var color = palette.GetColor(s);
            var points = plot.Add.Markers(members.Select(r => Math.Log10(r.Bottleneck)).ToArray(),
                members.Select(r => Math.Log10(r.TestMse)).ToArray(), MarkerShape.FilledCircle, 7, color.WithAlpha(0.75));
            points.LegendText = "";
            var medians = members.GroupBy(r => r.Bottleneck).OrderBy(g => g.Key)
                .Select(g => (X: Math.Log10(g.Key), Y: Math.Log10(Median(g.Select(r => r.TestMse))))).ToArray();
            var line = plot.Add.Scatter(medians.Select(m => m.X).ToArray(), medians.Select(m => m.Y).ToArray(), color);
            line.LineWidth = 2;
            line.MarkerSize = 0;
            line.LegendText = $"{name}: median over seeds";
        }
        var dead = rows.Where(r => r.DeadUnits.Count > 0).ToList();
        if (dead.Count > 0)
        {
            var rings = plot.Add.Markers(dead.Select(r => Math.Log10(r.Bottleneck)).ToArray(), dead.Select(r => Math.Log10(r.TestMse)).ToArray(),
                MarkerShape.OpenCircle, 15, Colors.Black);
            rings.MarkerLineWidth = 1.5f;
            rings.LegendText = "ring: run with dead bottleneck units";
        }
        plot.Legend.ManualItems.Add(new LegendItem
        {
            LabelText = "dot: one seed",
            MarkerShape = MarkerShape.FilledCircle,
            MarkerSize = 7,
            MarkerColor = Colors.Gray,
            LineWidth = 0,
        });

        var bottlenecks = rows.Select(r => r.Bottleneck).Distinct().Order().ToList();
        var x = new ScottPlot.TickGenerators.NumericManual();
        foreach (var b in bottlenecks) x.AddMajor(Math.Log10(b), b.ToString(CultureInfo.InvariantCulture));
        plot.Axes.Bottom.TickGenerator = x;
        plot.Axes.Left.TickGenerator = LogTicks(rows.Select(r => r.TestMse).Where(v => v > 0).DefaultIfEmpty(1).ToList());
        double lo = Math.Log10(bottlenecks.DefaultIfEmpty(1).Min()), hi = Math.Log10(bottlenecks.DefaultIfEmpty(1).Max());
        double margin = Math.Max(0.08, (hi - lo) * 0.06);
        plot.Axes.SetLimitsX(lo - margin, hi + margin);
        var mse = rows.Select(r => Math.Log10(r.TestMse)).Where(double.IsFinite).DefaultIfEmpty(0).ToList();
        double span = Math.Max(mse.Max() - mse.Min(), 0.02);
        // Room above the points for the legend, which sits where large bottlenecks (low MSE) leave space.
        plot.Axes.SetLimitsY(mse.Min() - span * 0.08, mse.Max() + span * 0.35);

        plot.ShowLegend(Alignment.UpperRight);
        plot.Legend.FontSize = 13;
        plot.Title(title, size: 17);
        plot.XLabel("bottleneck units (log scale)", size: 15);
        plot.YLabel("test MSE (log scale)", size: 15);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.Left.TickLabelStyle.FontSize = 13;
        return plot.GetImageBytes(width, height, ImageFormat.Png);
    }

    /// <summary>Ticks at 1–9 times each power of ten over the data's range; 1, 2 and 5 labelled when few decades leave room.</summary>
    static ScottPlot.TickGenerators.NumericManual LogTicks(IReadOnlyList<double> values)
    {
        double decades = Math.Log10(values.Max() / values.Min());
        int lo = (int)Math.Floor(Math.Log10(values.Min())) - 1, hi = (int)Math.Ceiling(Math.Log10(values.Max())) + 1;
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        // Within about a decade, label every step of 1 in the leading digit (and halves below 5), or few labels would show.
        double[] steps = decades < 1.2 ? [1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9] : [1, 2, 3, 4, 5, 6, 7, 8, 9];
        for (int k = lo; k <= hi; k++)
            foreach (var m in steps)
            {
                double v = m * Math.Pow(10, k);
                if (m == 1 || decades < 1.2 || (decades < 3 && m is 2 or 5))
                    ticks.AddMajor(Math.Log10(v), v.ToString("G3", CultureInfo.InvariantCulture));
                else ticks.AddMinor(Math.Log10(v));
            }
        return ticks;
    }

    /// <summary>Per bottleneck and series: seeds, median, min and max test MSE, and the runs with dead units.</summary>
    public static IReadOnlyList<string> Table(IReadOnlyList<SweepRow> rows)
    {
        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"{"bottleneck",10}  {"batch",6}  {"lr",8}  {"seeds",5}  {"median MSE",10}  {"min",8}  {"max",8}  {"final loss",10}  {"active units (per seed)",-28}"),
        };
        foreach (var (_, members) in Series(rows))
            foreach (var g in members.GroupBy(r => r.Bottleneck).OrderBy(g => g.Key))
            {
                var r = g.OrderBy(r => r.Seed).ToList();
                string active = string.Join(" ", r.Select(x => $"{x.ActiveUnits}/{x.Bottleneck}"));
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{g.Key,10}  {r[0].Batch,6}  {r[0].LearningRate,8:G4}  {r.Count,5}  {Median(r.Select(x => x.TestMse)),10:F6}  {r.Min(x => x.TestMse),8:F6}  {r.Max(x => x.TestMse),8:F6}  {Median(r.Select(x => x.FinalTrainLoss)),10:F6}  {active,-28}"));
            }
        int withDead = rows.Count(r => r.DeadUnits.Count > 0);
        lines.Add($"{rows.Count} runs; {withDead} with dead bottleneck units (never active on the evaluation split)");
        return lines;
    }
}
