using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Figures;
using GpuAutoencoder.Training.Model;
using SkiaSharp;

namespace GpuAutoencoder.Tests;

/// <summary>The figure commands' pictures: layout, pixel fidelity, and the decoder outputs they show.</summary>
public class FigureTests
{
    const int Pixels = Architecture.Pixels;

    /// <summary>Real test images when the shared data is there, generated ones (labelled i mod 10) otherwise.</summary>
    static MnistSet Images(int count) =>
        TestPaths.SharedMnist is { } dir
            ? Mnist.Load(dir, MnistSplit.Test).Take(count)
            : new MnistSet(TestImages.Synthetic(count, 99), [.. Enumerable.Range(0, count).Select(i => (byte)(i % 10))]);

    static DeviceModel RandomModel(int bottleneck = 8, int batchSize = 1000, ulong seed = 3)
    {
        var layout = new ParameterLayout(new Architecture(bottleneck));
        return new DeviceModel(TestAccelerator.Kernels(Schedule.Cpu), layout, layout.Initialize(seed), batchSize);
    }

    static SKBitmap Decode(GridFigure figure) =>
        SKBitmap.Decode(ImageGrid.Render(figure)) ?? throw new AssertionException("not a decodable PNG");

    /// <summary>Fails unless every pixel of the panel is the grey of the corresponding source value, upscaled by nearest neighbour.</summary>
    static void AssertPanelShows(SKBitmap bmp, SKRectI rect, int scale, Func<int, SKColor> expected, string what)
    {
        for (int y = rect.Top; y < rect.Bottom; y++)
            for (int x = rect.Left; x < rect.Right; x++)
            {
                int p = (y - rect.Top) / scale * Architecture.ImageSide + (x - rect.Left) / scale;
                if (bmp.GetPixel(x, y) != expected(p))
                    Assert.Fail($"{what}: pixel ({x},{y}) is {bmp.GetPixel(x, y)}, expected {expected(p)} (source pixel {p})");
            }
    }

    [TestCase(7, 3, 4)]
    [TestCase(2, 5, 6)]
    public void ReconstructionImageSizeFollowsTheGridLayout(int count, int perRow, int scale)
    {
        var set = Images(count);
        using var model = RandomModel();
        var figure = DigitFigures.Reconstruction(model, set, "test", [.. Enumerable.Range(0, count)], "m", perRow) with { Scale = scale };
        using var bmp = Decode(figure);

        int pairs = Math.Min(perRow, count), rows = (count + perRow - 1) / perRow, cell = 28 * scale;
        // Columns inside a pair are Gap apart, pairs GroupGap apart.
        int width = 2 * GridLayout.Pad + 2 * pairs * cell + pairs * GridLayout.Gap + (pairs - 1) * GridLayout.GroupGap;
        int captionLines = ImageGrid.Layout(figure).CaptionLines.Count;
        int height = GridLayout.Pad + GridLayout.TitleBand + GridLayout.HeaderBand + rows * (cell + GridLayout.LabelBand) + (rows - 1) * GridLayout.RowGap
            + 6 + captionLines * GridLayout.CaptionLine + GridLayout.Pad;
        Assert.That(captionLines, Is.InRange(1, 4));
        Assert.That((bmp.Width, bmp.Height), Is.EqualTo((width, height)));
    }

    [Test]
    public void InputPanelsShowTheDatasetImagesAndOutputPanelsTheReconstructions()
    {
        var set = Images(12);
        int[] indices = [11, 0, 5, 7];
        using var model = RandomModel();
        var figure = DigitFigures.Reconstruction(model, set, "test", indices, "m", perRow: 3);
        var layout = ImageGrid.Layout(figure);
        using var bmp = Decode(figure);
        var reconstructions = model.Reconstruct(DigitFigures.Images(set, indices));

        for (int i = 0; i < indices.Length; i++)
        {
            int row = i / 3, col = 2 * (i % 3), image = indices[i];
            AssertPanelShows(bmp, layout.PanelRect(row, col), layout.Scale,
                p => new SKColor(set.Images[image * Pixels + p], set.Images[image * Pixels + p], set.Images[image * Pixels + p]), $"input #{image}");
            AssertPanelShows(bmp, layout.PanelRect(row, col + 1), layout.Scale,
                p => ImageGrid.Gray(reconstructions[i * Pixels + p]), $"reconstruction #{image}");
        }
        // The panels must not be all one colour, or the comparison above proves little.
        Assert.That(set.Images.AsSpan(11 * Pixels, Pixels).ToArray().Distinct().Count(), Is.GreaterThan(5));
    }

    [Test]
    public void InterpolationPanelsAreTheDecoderOutputsAtEvenlySpacedCodes()
    {
        var set = Images(10);
        (int A, int B)[] pairs = [(1, 2), (3, 9)];
        const int steps = 5;
        using var model = RandomModel(bottleneck: 6);
        var figure = DigitFigures.Interpolation(model, set, "test", pairs, "m", steps);

        Assert.That(figure.Rows.Select(r => r.Count), Is.All.EqualTo(steps + 2));
        var layout = ImageGrid.Layout(figure);
        using var bmp = Decode(figure);
        for (int r = 0; r < pairs.Length; r++)
        {
            var codes = model.Encode(DigitFigures.Images(set, [pairs[r].A, pairs[r].B]));
            int z = model.Bottleneck;
            var decoded = model.Decode(codes);
            Assert.That(figure.Rows[r][1].Pixels, Is.EqualTo(decoded[..Pixels]), $"row {r}: t = 0 is decode(code A)");
            Assert.That(figure.Rows[r][steps].Pixels, Is.EqualTo(decoded[Pixels..]), $"row {r}: t = 1 is decode(code B)");
            // Every point in between: the decoder at (1 - t)·code(A) + t·code(B), t = s / (steps - 1), the code computed here in float64.
            for (int s = 1; s < steps - 1; s++)
            {
                double t = s / (double)(steps - 1);
                var code = Enumerable.Range(0, z).Select(j => (float)((1 - t) * codes[j] + t * codes[z + j])).ToArray();
                var expected = model.Decode(code);
                Assert.That(figure.Rows[r][1 + s].Pixels, Is.EqualTo(expected).Within(1e-5f), $"row {r}, t = {t}");
                Assert.That(figure.Rows[r][1 + s].Label, Is.EqualTo($"t = {t:0.##}"), $"row {r}, panel {1 + s}'s label");
                Assert.That(expected, Is.Not.EqualTo(decoded[..Pixels]).And.Not.EqualTo(decoded[Pixels..]), $"row {r}, t = {t} differs from the ends");
                AssertPanelShows(bmp, layout.PanelRect(r, 1 + s), layout.Scale, p => ImageGrid.Gray(figure.Rows[r][1 + s].Pixels[p]), $"row {r} point {s}");
            }
            AssertPanelShows(bmp, layout.PanelRect(r, steps), layout.Scale, p => ImageGrid.Gray(decoded[Pixels + p]), $"row {r} last point");
            AssertPanelShows(bmp, layout.PanelRect(r, 0), layout.Scale,
                p => ImageGrid.Gray(set.Images[pairs[r].A * Pixels + p] / 255f), $"row {r} image A");
        }
    }

    [Test]
    public void EvaluationMatchesTheFloat64Reference()
    {
        const int count = 300;
        var set = Images(count);
        var layout = new ParameterLayout(new Architecture(5));
        var flat = layout.Initialize(11);
        // Kill bottleneck unit 3 (a large negative bias keeps its ReLU at zero), so counting active units is tested too.
        flat[layout.Slots[1].BiasOffset + 3] = -100;
        // Batches of 128 leave a partial last batch.
        using var model = new DeviceModel(TestAccelerator.Kernels(Schedule.Cpu), layout, flat, batchSize: 128);
        using var images = model.Upload(set.Images, count);
        var (errors, codes) = model.Evaluate(images);
        var got = Evaluation.From(errors, codes, set.Labels, Pixels);
        double deviceReduced = model.MeanSquaredError(images);

        var acts = new ReferenceModel(layout, flat).Forward(ReferenceModel.Scale(set.Images, 0, count), count);
        var (input, output, code) = (acts[0], acts[^1], acts[2]);
        double total = 0, psnr = 0;
        var digitSum = new double[10];
        var digitCount = new int[10];
        for (int i = 0; i < count; i++)
        {
            double sse = 0;
            for (int p = 0; p < Pixels; p++) sse += Math.Pow(output[i * Pixels + p] - input[i * Pixels + p], 2);
            total += sse;
            psnr += -10 * Math.Log10(sse / Pixels);
            digitSum[set.Labels[i]] += sse / Pixels;
            digitCount[set.Labels[i]]++;
        }
        var active = Enumerable.Range(0, 5).Select(u => Enumerable.Range(0, count).Any(i => code[i * 5 + u] > 0)).ToArray();

        double mse = total / (count * Pixels);
        Assert.That(got.Mse, Is.EqualTo(mse).Within(1e-5 * mse));
        Assert.That(deviceReduced, Is.EqualTo(mse).Within(1e-5 * mse), "MeanSquaredError, reduced on the device");
        Assert.That(got.MeanPsnrDb, Is.EqualTo(psnr / count).Within(1e-4));
        for (int d = 0; d < 10; d++)
            if (digitCount[d] > 0) Assert.That(got.PerDigitMse[d], Is.EqualTo(digitSum[d] / digitCount[d]).Within(1e-5 * mse), $"digit {d}");
        Assert.That(got.PerDigitCount, Is.EqualTo(digitCount));
        Assert.That(got.ActiveUnits, Is.EqualTo(active));
        Assert.That(got.ActiveUnits[3], Is.False, "the killed unit");
        Assert.That(got.ActiveUnitCount, Is.EqualTo(active.Count(a => a)).And.GreaterThan(0));
    }

    [Test]
    public void DenoisingFeedsTheUnclippedNoisyImagesAndShowsThemRescaled()
    {
        var set = Images(4);
        using var model = RandomModel();
        const ulong seed = 5;
        var figure = DigitFigures.Denoising(model, set, "test", [0, 1, 2, 3], "m", new NoiseSettings(NoiseKind.Uniform, 1.0, seed), perRow: 2);

        // The lab's noise, from its definition: pixel/255 + 1.0·U[0, 1), drawn in order from SplitMix64(seed), not clipped.
        var rng = new SplitMix64(seed);
        var noisy = new float[4 * Pixels];
        for (int i = 0; i < noisy.Length; i++) noisy[i] = (float)(set.Images[i] / 255f + 1.0 * rng.NextDouble());
        Assert.That(noisy.Max(), Is.GreaterThan(1.5f), "the lab's noise is not clipped");

        Assert.That(figure.Rows.Count, Is.EqualTo(2));
        var outputs = model.Reconstruct(noisy);
        for (int image = 0; image < 4; image++)
        {
            int row = image / 2, col = 3 * (image % 2);
            var raw = noisy.AsSpan(image * Pixels, Pixels).ToArray();
            float lo = raw.Min(), hi = raw.Max();
            Assert.That(hi - lo, Is.GreaterThan(0.5f), $"image {image}: a range to rescale");
            // What matplotlib's imshow shows: each image stretched to [0, 1] by its own minimum and maximum.
            var shown = raw.Select(v => (v - lo) / (hi - lo)).ToArray();
            Assert.That(figure.Rows[row][col + 1].Pixels, Is.EqualTo(shown).Within(1e-6f), $"image {image}: noisy panel, rescaled per image");
            Assert.That(figure.Rows[row][col + 1].Label, Is.EqualTo(FormattableString.Invariant($"[{lo:F2}, {hi:F2}]")), $"image {image}: raw range");
            Assert.That(figure.Rows[row][col + 2].Pixels, Is.EqualTo(outputs[(image * Pixels)..((image + 1) * Pixels)]).Within(1e-6f),
                $"image {image}: output panel, the model's output for the unclipped noisy input");
        }
        Assert.That(figure.Caption, Does.Contain("min-max rescaled"));
    }

    [Test]
    public void SummaryShowsTorchsummarysCountsForTheLabsModel()
    {
        var text = string.Join("\n", ModelSummary.Lines(new Architecture(8)));
        foreach (var count in new[] { "307,720", "3,144", "3,528", "308,112" }) Assert.That(text, Does.Contain(count));
        Assert.That(text, Does.Contain("Total params: 622,504").And.Contain("Non-trainable params: 0").And.Contain("Params size (MB): 2.37"));
        Assert.That(string.Join("\n", ModelSummary.Lines(new Architecture(16))), Does.Contain("[-1, 16]").And.Contain("Total params: 628,784"));
    }

    [Test]
    public void PcaFindsTheTwoAxesOfLargestVarianceAndTheirShares()
    {
        // Spread along (1, 1, 0), less along (1, -1, 0), least along (0, 0, 1). Every (a, b, c) comes with
        // all four signs of b and c, so the three spreads are uncorrelated in the sample itself and those
        // axes are exactly the sample's principal axes.
        const int seed = 4, n = 300;
        var rng = new Random(seed);
        var data = new float[n * 3];
        for (int q = 0; q < n / 4; q++)
        {
            double a = rng.NextDouble() * 10 - 5, b = rng.NextDouble() - 0.5, c = 0.4 * rng.NextDouble() - 0.2;
            for (int k = 0; k < 4; k++)
            {
                int i = 4 * q + k;
                double sb = k % 2 == 0 ? b : -b, sc = k < 2 ? c : -c;
                (data[3 * i], data[3 * i + 1], data[3 * i + 2]) = ((float)(a + sb + 7), (float)(a - sb), (float)(sc + 1));
            }
        }
        var mean = Enumerable.Range(0, 3).Select(j => Enumerable.Range(0, n).Average(i => (double)data[3 * i + j])).ToArray();
        double D(int i, int j) => data[3 * i + j] - mean[j];
        var along1 = Enumerable.Range(0, n).Select(i => (D(i, 0) + D(i, 1)) / Math.Sqrt(2)).ToArray();
        var along2 = Enumerable.Range(0, n).Select(i => (D(i, 0) - D(i, 1)) / Math.Sqrt(2)).ToArray();
        double total = Enumerable.Range(0, n).Sum(i => D(i, 0) * D(i, 0) + D(i, 1) * D(i, 1) + D(i, 2) * D(i, 2));

        var (x, y, explained) = Pca.Project2D(data, 3);
        Assert.That(explained[0], Is.EqualTo(along1.Sum(v => v * v) / total).Within(1e-6), $"PC 1's share of the variance (seed {seed})");
        Assert.That(explained[1], Is.EqualTo(along2.Sum(v => v * v) / total).Within(1e-6), $"PC 2's share of the variance (seed {seed})");
        Assert.That(explained[1], Is.InRange(0.005, 0.05), "PC 2 has a small but real share");
        // An eigenvector's sign is arbitrary: each component may come out mirrored, but then every point is.
        double sign1 = Math.Sign(x[0] * along1[0]), sign2 = Math.Sign(y[0] * along2[0]);
        for (int i = 0; i < n; i++)
        {
            Assert.That(sign1 * x[i], Is.EqualTo(along1[i]).Within(1e-4), $"point {i} on PC 1 (seed {seed})");
            Assert.That(sign2 * y[i], Is.EqualTo(along2[i]).Within(1e-4), $"point {i} on PC 2 (seed {seed})");
        }
    }
}
