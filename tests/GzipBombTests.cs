using System.Buffers.Binary;
using System.IO.Compression;
using GpuAutoencoder.Training.Data;

namespace GpuAutoencoder.Tests;

/// <summary>
/// A gzipped IDX file is inflated only as far as its IDX header declares. Allocation is the witness: each case
/// must stay far below what inflating the whole stream, or believing the header's count, would take.
/// </summary>
public class GzipBombTests
{
    static readonly byte[] TwoImages = TestData.Images(TestImages.Synthetic(2, 3), 2);
    const long Bomb = 32 << 20;

    static DataFormatException Refused(byte[] gz, out long allocated)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataFormatException>(() => IdxFile.ParseImages(gz, "bomb.gz"))!;
        allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(e.Message, Does.StartWith("bomb.gz: ").And.Not.Contains("\n"));
        return e;
    }

    [Test]
    public void ABombWithAForgedTrailerStopsOneBytePastTheDeclaredSize()
    {
        var gz = GzipFiles.GzipBomb(TwoImages, Bomb);
        Assert.That(gz.Length, Is.LessThan(Bomb / 100), "the bomb is small on disk");
        var e = Refused(gz, out long allocated);
        Assert.That(e.Message, Does.Contain($"inflates beyond the {TwoImages.Length} bytes its IDX header declares"));
        Assert.That(allocated, Is.LessThan(1 << 20), "inflated no further than the declared size");
    }

    [Test]
    public void ABombWithItsTrueTrailerIsRefusedBeforeInflating()
    {
        var e = Refused(GzipFiles.GzipBomb(TwoImages, Bomb, forgeTrailer: false), out long allocated);
        Assert.That(e.Message, Does.Contain("gzip trailer does not match"));
        Assert.That(allocated, Is.LessThan(1 << 20));
    }

    [TestCase(int.MaxValue, "more than any MNIST file holds")]
    [TestCase(1_000_000, "more than")]
    public void AHeaderDeclaringMoreThanTheFileCanHoldIsRefusedBeforeAllocating(int count, string problem)
    {
        var idx = (byte[])TwoImages.Clone();
        BinaryPrimitives.WriteInt32BigEndian(idx.AsSpan(4), count);
        var gz = GzipFiles.Gzip(idx);
        var e = Refused(gz, out long allocated);
        Assert.That(e.Message, Does.Contain(problem).And.Contain("IDX header declares").And.Contain("gzip"));
        Assert.That(allocated, Is.LessThan(1 << 20), $"a header declaring {count} images allocated nothing for them");
    }

    [Test]
    public void AnHonestGzipFileStillLoads()
    {
        var images = IdxFile.ParseImages(GzipFiles.Gzip(TwoImages), "two.gz");
        Assert.That(images.Count, Is.EqualTo(2));
        Assert.That(images.Pixels, Is.EqualTo(TwoImages[16..]));
    }
}

/// <summary>Gzipped files for the IDX reader's tests: honest ones, and bombs.</summary>
public static class GzipFiles
{
    public static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    /// <summary>
    /// A gzip bomb: the IDX file followed by <paramref name="extraZeros"/> zero bytes, compressed, with the gzip trailer's
    /// size forged to the IDX file's own length, so that only the IDX header can tell how much to inflate.
    /// </summary>
    public static byte[] GzipBomb(byte[] idx, long extraZeros, bool forgeTrailer = true)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true))
        {
            gz.Write(idx);
            var zeros = new byte[1 << 20];
            for (long left = extraZeros; left > 0; left -= zeros.Length) gz.Write(zeros, 0, (int)Math.Min(left, zeros.Length));
        }
        var bomb = ms.ToArray();
        if (forgeTrailer) BinaryPrimitives.WriteUInt32LittleEndian(bomb.AsSpan(bomb.Length - 4), (uint)idx.Length);
        return bomb;
    }
}
