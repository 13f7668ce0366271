using System.Globalization;
using GpuAutoencoder.Training.IO;
using ScottPlot;

namespace GpuAutoencoder.Figures;

/// <summary>The bottleneck codes of a split, projected to 2-D by PCA, as a scatter coloured by digit (ScottPlot).</summary>
public static class LatentPlot
{
    public static void Save(string path, string title, ReadOnlySpan<float> codes, int bottleneck, ReadOnlySpan<byte> labels,
        int width = 900, int height = 720) =>
        AtomicFile.WriteAllBytes(path, Render(title, codes, bottleneck, labels, width, height));

    public static byte[] Render(string title, ReadOnlySpan<float> codes, int bottleneck, ReadOnlySpan<byte> labels,
        int width = 900, int height = 720)
    {
        var (x, y, explained) = Pca.Project2D(codes, bottleneck);
        var plot = new Plot();
        plot.Font.Set(Fonts.ScottPlotSans);
        var palette = new ScottPlot.Palettes.Category10();
        var byDigit = Enumerable.Range(0, 10).Select(_ => new List<int>()).ToArray();
        for (int i = 0; i < labels.Length; i++) byDigit[labels[i]].Add(i);
        for (int d = 0; d < 10; d++)
        {
            if (byDigit[d].Count == 0) continue;
            var color = palette.GetColor(d);
            var points = plot.Add.ScatterPoints(byDigit[d].Select(i => x[i]).ToArray(), byDigit[d].Select(i => y[i]).ToArray(), color.WithAlpha(0.45));
            points.MarkerSize = 3;
            // The scatter's own legend marker would be as small and faint as its points.
            plot.Legend.ManualItems.Add(new LegendItem
            {
                LabelText = $"digit {d}",
                MarkerShape = MarkerShape.FilledCircle,
                MarkerSize = 10,
                MarkerColor = color,
                LineWidth = 0,
            });
        }
        plot.ShowLegend(Edge.Right);
        plot.Legend.FontSize = 14;
        plot.Title(title, size: 17);
        plot.XLabel(string.Create(CultureInfo.InvariantCulture, $"PC 1 ({explained[0]:P1} of variance)"), size: 15);
        plot.YLabel(string.Create(CultureInfo.InvariantCulture, $"PC 2 ({(explained.Length > 1 ? explained[1] : 0):P1} of variance)"), size: 15);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.Left.TickLabelStyle.FontSize = 13;
        return plot.GetImageBytes(width, height, ImageFormat.Png);
    }
}
