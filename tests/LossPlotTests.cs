using GpuAutoencoder.Figures;
using NUnit.Framework;
using SkiaSharp;

namespace GpuAutoencoder.Tests;

public class LossPlotTests
{
    string _dir = "";

    [SetUp] public void SetUp() => _dir = TestPaths.TempDir("plot");
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    // Matplotlib's first two colours, which the plot must use for the first two series.
    static readonly SKColor Blue = SKColor.Parse("1f77b4"), Orange = SKColor.Parse("ff7f0e");

    static List<SKColor> Pixels(SKBitmap bmp, SKRectI? area = null)
    {
        var r = area ?? new SKRectI(0, 0, bmp.Width, bmp.Height);
        var list = new List<SKColor>();
        for (int y = r.Top; y < r.Bottom; y++)
            for (int x = r.Left; x < r.Right; x++) list.Add(bmp.GetPixel(x, y));
        return list;
    }

    /// <summary>The image as written to disk, and the rectangle the curves are drawn in; the legend and the axes lie outside it.</summary>
    static (SKBitmap Bitmap, SKRectI DataArea) SaveAndDecode(string path, string title, IReadOnlyList<Series> series, bool logY = true, int width = 640, int height = 400)
    {
        var drawn = LossPlot.Draw(title, series, logY, width, height);
        LossPlot.Save(path, title, series, logY, width, height);
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(drawn.Png), "Save writes what Draw renders");
        var bmp = SKBitmap.Decode(path) ?? throw new AssertionException($"{path} is not a decodable image");
        var area = drawn.DataArea;
        Assert.That(area.Left >= 0 && area.Top >= 0 && area.Right <= bmp.Width && area.Bottom <= bmp.Height, $"data area {area} inside the image");
        Assert.That(area.Width * area.Height, Is.GreaterThan(bmp.Width * bmp.Height / 3), $"data area {area} is most of the image");
        return (bmp, area);
    }

    [Test]
    public void DrawsCurvesInDistinctColoursAtTheRequestedSize()
    {
        var train = Enumerable.Range(1, 12).Select(e => 0.1 / e).ToArray();
        var path = Path.Combine(_dir, "loss.png");
        var (bmp, area) = SaveAndDecode(path, "Loss", [new("train", train), new("test", [.. train.Select(v => v * 1.3)])]);
        using var _ = bmp;

        Assert.That((bmp.Width, bmp.Height), Is.EqualTo((640, 400)));
        var pixels = Pixels(bmp);
        Assert.That(pixels.Count(p => p == SKColors.White), Is.GreaterThan(pixels.Count / 2), "white background");
        // Counted inside the data area only: the legend's swatches alone must not pass.
        var inside = Pixels(bmp, area);
        Assert.That(inside.Count(p => p == Blue), Is.GreaterThan(100), "first series drawn");
        Assert.That(inside.Count(p => p == Orange), Is.GreaterThan(100), "second series drawn in another colour");
        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EqualTo(new[] { "loss.png" }), "no temp file left");
    }

    [Test]
    public void ASeriesWithNothingToShowHasALegendEntryButNoPixelsInTheDataArea()
    {
        // The control for the counts above: the orange legend swatch is there, outside the data area.
        var (bmp, area) = SaveAndDecode(Path.Combine(_dir, "legend.png"), "legend", [new("train", [0.3, 0.2, 0.1]), new("test", [double.NaN, 0, -1])]);
        using var _ = bmp;
        Assert.That(Pixels(bmp).Count(p => p == Orange), Is.GreaterThan(5), "the legend shows the second series");
        Assert.That(Pixels(bmp, area).Count(p => p == Orange), Is.Zero, "nothing of the second series is drawn");
        Assert.That(Pixels(bmp, area).Count(p => p == Blue), Is.GreaterThan(20), "the first series is drawn");
    }

    [Test]
    public void RendersTitleText()
    {
        var (bmp, _) = SaveAndDecode(Path.Combine(_dir, "t.png"), "A fairly long title", [new("train", [0.2, 0.1])]);
        using var _b = bmp;
        // The title band holds nothing but the title, so dark pixels there mean the font really rendered;
        // without the shipped font the labels would silently be missing.
        var dark = Pixels(bmp, new SKRectI(0, 0, bmp.Width, 30)).Count(p => p.Red < 100 && p.Green < 100 && p.Blue < 100);
        Assert.That(dark, Is.GreaterThan(50), "title text missing");
    }

    [Test]
    public void ShowsASinglePointAsAMarker()
    {
        var (bmp, area) = SaveAndDecode(Path.Combine(_dir, "one.png"), "one epoch", [new("train", [0.05])]);
        using var _ = bmp;
        Assert.That(Pixels(bmp, area).Count(p => p == Blue), Is.GreaterThan(20));
    }

    [Test]
    public void ShowsAnIsolatedPointAsAMarkerWhenThereAreTooManyEpochsForMarkers()
    {
        // 40 epochs: too many for markers, but epoch 20 has no neighbour to draw a line to.
        var values = Enumerable.Range(0, 40).Select(i => i == 19 ? 0.05 : double.NaN).ToArray();
        var (bmp, area) = SaveAndDecode(Path.Combine(_dir, "isolated.png"), "isolated", [new("train", values)]);
        using var _ = bmp;
        Assert.That(Pixels(bmp, area).Count(p => p == Blue), Is.GreaterThan(20));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void SurvivesNonPositiveAndNonFiniteValues(bool logY)
    {
        var (bmp, area) = SaveAndDecode(Path.Combine(_dir, "odd.png"), "odd", [new("a", [0.5, 0, -1, double.NaN, 0.1, double.PositiveInfinity]), new("zeros", [0, 0])], logY);
        using var _ = bmp;
        Assert.That(Pixels(bmp, area).Count(p => p == Blue), Is.GreaterThan(20), "the positive values are still drawn");
    }

    [Test]
    public void PlotsLog10OfTheValuesWithGapsWhereTheAxisCannotShowThem()
    {
        double[] values = [0.5, 0, -1, double.NaN, 0.1, double.PositiveInfinity, 1e-3];
        Assert.That(LossPlot.Plotted(values, log: true), Is.EqualTo(new[] { Math.Log10(0.5), double.NaN, double.NaN, double.NaN, -1, double.NaN, -3 }).Within(1e-12));
        Assert.That(LossPlot.Plotted(values, log: false), Is.EqualTo(new[] { 0.5, 0, -1, double.NaN, 0.1, double.NaN, 1e-3 }));
    }

    [TestCase(-3, "0.001")]
    [TestCase(-2, "0.01")]
    [TestCase(-1, "0.1")]
    [TestCase(0, "1")]
    [TestCase(2, "100")]
    public void LabelsEachDecadeTickWithThePlainValue(double exponent, string label) =>
        Assert.That(LossPlot.DecadeLabel(exponent), Is.EqualTo(label));

    [Test]
    public void DrawsEmptyAxesWithoutSeries()
    {
        using var bmp = SKBitmap.Decode(LossPlot.Render("nothing yet", []));
        Assert.That((bmp.Width, bmp.Height), Is.EqualTo((900, 560)));
        Assert.That(Pixels(bmp).Count(p => p == SKColors.Black), Is.GreaterThan(500), "axes frame drawn");
    }
}
