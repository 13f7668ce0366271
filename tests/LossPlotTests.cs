using GpuAutoencoder.Figures;
using NUnit.Framework;
using SkiaSharp;

namespace GpuAutoencoder.Tests;

public class LossPlotTests
{
    string _dir = "";

    [SetUp] public void SetUp() => _dir = TestPaths.TempDir("plot");
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    static readonly SKColor Blue = SKColor.Parse("1f77b4"), Orange = SKColor.Parse("ff7f0e");

    static List<SKColor> Pixels(SKBitmap bmp, SKRectI? area = null)
    {
        var r = area ?? new SKRectI(0, 0, bmp.Width, bmp.Height);
        var list = new List<SKColor>();
        for (int y = r.Top; y < r.Bottom; y++)
            for (int x = r.Left; x < r.Right; x++) list.Add(bmp.GetPixel(x, y));
        return list;
    }

    static SKBitmap SaveAndDecode(string path, string title, IReadOnlyList<Series> series, bool logY = true, int width = 640, int height = 400)
    {
        LossPlot.Save(path, title, series, logY, width, height);
        return SKBitmap.Decode(path) ?? throw new AssertionException($"{path} is not a decodable image");
    }

    [Test]
    public void DrawsCurvesInDistinctColoursAtTheRequestedSize()
    {
        var train = Enumerable.Range(1, 12).Select(e => 0.1 / e).ToArray();
        var path = Path.Combine(_dir, "loss.png");
        using var bmp = SaveAndDecode(path, "Loss", [new("train", train), new("test", [.. train.Select(v => v * 1.3)])]);

        Assert.That((bmp.Width, bmp.Height), Is.EqualTo((640, 400)));
        var pixels = Pixels(bmp);
        Assert.That(pixels.Count(p => p == SKColors.White), Is.GreaterThan(pixels.Count / 2), "white background");
        Assert.That(pixels.Count(p => p == Blue), Is.GreaterThan(100), "first series drawn");
        Assert.That(pixels.Count(p => p == Orange), Is.GreaterThan(100), "second series drawn in another colour");
        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EqualTo(new[] { "loss.png" }), "no temp file left");
    }

    [Test]
    public void RendersTitleText()
    {
        using var bmp = SaveAndDecode(Path.Combine(_dir, "t.png"), "A fairly long title", [new("train", [0.2, 0.1])]);
        // The title band holds nothing but the title, so dark pixels there mean the font really rendered;
        // without the shipped font the labels would silently be missing.
        var dark = Pixels(bmp, new SKRectI(0, 0, bmp.Width, 30)).Count(p => p.Red < 100 && p.Green < 100 && p.Blue < 100);
        Assert.That(dark, Is.GreaterThan(50), "title text missing");
    }

    [Test]
    public void ShowsASinglePointAsAMarker()
    {
        using var bmp = SaveAndDecode(Path.Combine(_dir, "one.png"), "one epoch", [new("train", [0.05])]);
        Assert.That(Pixels(bmp).Count(p => p == Blue), Is.GreaterThan(20));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void SurvivesNonPositiveAndNonFiniteValues(bool logY)
    {
        using var bmp = SaveAndDecode(Path.Combine(_dir, "odd.png"), "odd", [new("a", [0.5, 0, -1, double.NaN, 0.1, double.PositiveInfinity]), new("zeros", [0, 0])], logY);
        Assert.That(Pixels(bmp).Count(p => p == Blue), Is.GreaterThan(20), "the positive values are still drawn");
    }

    [Test]
    public void DrawsEmptyAxesWithoutSeries()
    {
        using var bmp = SKBitmap.Decode(LossPlot.Render("nothing yet", []));
        Assert.That((bmp.Width, bmp.Height), Is.EqualTo((900, 560)));
        Assert.That(Pixels(bmp).Count(p => p == SKColors.Black), Is.GreaterThan(500), "axes frame drawn");
    }
}
