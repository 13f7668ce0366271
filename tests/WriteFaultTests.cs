using GpuAutoencoder.Cli;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.Tests;

/// <summary>
/// Faults while writing, injected through <see cref="AtomicFile.Inject"/>: a disk that fills up in the middle of
/// each file a run writes, and output folders that cannot be written, through the whole command line.
/// </summary>
public class WriteFaultTests
{
    const int Images = 128;
    const string Epochs = "2";
    string _dir = "", _data = "";
    static string _classDir = "";
    static readonly Lazy<float[]> Uninterrupted = new(() =>
    {
        var run = Path.Combine(_classDir, "whole");
        Ok(Train(Path.Combine(_classDir, "data"), run));
        return Weights(Path.Combine(run, RunFolder.Model));
    });

    [OneTimeSetUp]
    public void OneTimeSetUp()
    {
        _classDir = TestPaths.TempDir("write-faults-whole");
        TestData.Folder(Path.Combine(_classDir, "data"), Images);
    }

    [OneTimeTearDown] public void OneTimeTearDown() => Directory.Delete(_classDir, recursive: true);

    [SetUp]
    public void SetUp()
    {
        _dir = TestPaths.TempDir("write-faults");
        // The same images as the uninterrupted run's, so that its weights are the reference.
        _data = TestData.Folder(Path.Combine(_dir, "data"), Images);
    }

    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    static string[] Train(string data, string outDir, params string[] extra) =>
        ["train", "--accelerator", "cpu", "--data", data, "--batch", "64", "--epochs", Epochs, "--out", outDir, .. extra];

    static Gpuae.Result Ok(params string[] args)
    {
        var r = Gpuae.Run(args);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.Ok), r.ToString());
        return r;
    }

    static float[] Weights(string path) =>
        SafeTensors.Read(path).Tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal).SelectMany(t => t.Data).ToArray();

    /// <summary>A stream on a disk that fills up after <paramref name="room"/> bytes: those reach the file, then ENOSPC.</summary>
    sealed class FillingStream(FileStream file, int room) : Stream
    {
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            int fits = (int)Math.Min(buffer.Length, Math.Max(0, room - file.Position));
            file.Write(buffer[..fits]);
            file.Flush();
            // The IOException .NET throws for ENOSPC on Linux and macOS carries the errno as its HResult.
            if (fits < buffer.Length) throw new IOException("No space left on device", 28);
        }

        public override void Flush() => file.Flush();
        protected override void Dispose(bool disposing)
        {
            if (disposing) file.Dispose();
            base.Dispose(disposing);
        }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => file.Length;
        public override long Position { get => file.Position; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>The disk fills up during the <paramref name="nth"/> write (from 1) of files named <paramref name="name"/>;
    /// <paramref name="before"/> gets what that file held just before, null when it did not exist.</summary>
    static IDisposable DiskFullAt(string name, int nth, Action<byte[]?> before)
    {
        int seen = 0;
        return AtomicFile.Inject((target, temp) =>
        {
            var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            if (Path.GetFileName(target) != name || ++seen != nth) return file;
            before(File.Exists(target) ? File.ReadAllBytes(target) : null);
            return new FillingStream(file, 100);
        });
    }

    [Test]
    public void AFullDiskLeavesTheTargetAsItWasAndNoTemporaryFile()
    {
        var path = Path.Combine(_dir, "out", "file.bin");
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        var e = Assert.Throws<DiskFullException>(() =>
        {
            using (DiskFullAt("file.bin", 1, _ => { })) AtomicFile.WriteAllBytes(path, new byte[1000]);
        });
        Assert.That(e!.Message, Does.Contain(path).And.Contain("the disk is full"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(Directory.EnumerateFiles(Path.GetDirectoryName(path)!), Is.EqualTo(new[] { path }), "no temporary file is left");
        // The seam is gone once disposed.
        AtomicFile.WriteAllBytes(path, new byte[1000]);
        Assert.That(new FileInfo(path).Length, Is.EqualTo(1000));
    }

    [Test]
    [Platform(Include = "Linux", Reason = "/dev/full")]
    public void ARealEnospcIsRecognisedAsAFullDisk()
    {
        if (!File.Exists("/dev/full")) Assert.Ignore("this machine has no /dev/full");
        var e = Assert.Throws<IOException>(() =>
        {
            using var full = new FileStream("/dev/full", FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
            full.Write(new byte[4096]);
            full.Flush();
        });
        Assert.That(AtomicFile.IsDiskFull(e!), $"HResult {e!.HResult}: {e.Message}");
        Assert.That(AtomicFile.IsDiskFull(new IOException("another error", 5)), Is.False);
    }

    /// <summary>The disk fills up in the middle of each file a run writes, at the write named; what is on disk
    /// must be the checkpoint before that write, loadable, and a resume must end where an unfailed run ends.</summary>
    [TestCase(Checkpoint.FileName, 2, 1, TestName = "DiskFullWritingTheSecondCheckpoint")]
    // metrics.json is written once, with the weights and the plot, after the last checkpoint.
    [TestCase(RunFolder.Metrics, 1, 2, TestName = "DiskFullWritingMetrics")]
    [TestCase(RunFolder.Model, 1, 2, TestName = "DiskFullWritingTheModel")]
    [TestCase(RunFolder.Plot, 1, 2, TestName = "DiskFullWritingThePlot")]
    public void DiskFullExitsOneKeepsTheCheckpointAndResumesBitForBit(string file, int nth, int checkpointEpoch)
    {
        var run = Path.Combine(_dir, "run");
        var checkpoint = Path.Combine(run, Checkpoint.FileName);
        byte[]? previous = null;
        bool faulted = false;
        Gpuae.Result r;
        using (DiskFullAt(file, nth, b => (previous, faulted) = (b, true))) r = Gpuae.Run(Train(_data, run));

        Assert.That(faulted, $"the run never wrote {file} {nth} times\n{r}");
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.Failure), r.ToString());
        var errors = r.ErrLines.Where(l => l.StartsWith("gpuae:", StringComparison.Ordinal)).ToList();
        Assert.That(errors, Has.Count.EqualTo(1), r.ToString());
        Assert.That(errors[0], Does.StartWith("gpuae: error: ").And.Contain(Path.Combine(run, file)).And.Contain("the disk is full")
            .And.Contain($"gpuae train --resume {run}"), r.ToString());
        Assert.That(errors[0], Does.Contain($"after epoch {checkpointEpoch}"));
        Assert.That(r.Err, Does.Not.Contain(" at GpuAutoencoder"));

        var kept = Checkpoint.Load(checkpoint);
        Assert.That((kept.State.Epoch, kept.State.Batch), Is.EqualTo((checkpointEpoch, 0)));
        if (file == Checkpoint.FileName) Assert.That(File.ReadAllBytes(checkpoint), Is.EqualTo(previous), "the previous checkpoint is untouched");
        if (file == Checkpoint.FileName) Assert.That(File.Exists(Path.Combine(run, RunFolder.Metrics)), Is.False, "metrics.json is written only once the run is complete");
        Assert.That(Directory.EnumerateFiles(run, ".*"), Is.Empty, "no temporary file (nor lock file) is left behind");
        if (file is RunFolder.Model or RunFolder.Plot) Assert.That(File.Exists(Path.Combine(run, file)), Is.False);

        Ok("train", "--resume", run, "--data", _data, "--accelerator", "cpu");
        Assert.That(Weights(Path.Combine(run, RunFolder.Model)).Select(BitConverter.SingleToInt32Bits),
            Is.EqualTo(Uninterrupted.Value.Select(BitConverter.SingleToInt32Bits)), "the resumed run ends bit for bit where an unfailed one does");
        Assert.That(RunMetrics.Load(Path.Combine(run, RunFolder.Metrics)).Epochs, Has.Count.EqualTo(int.Parse(Epochs)));
        Assert.That(File.Exists(Path.Combine(run, RunFolder.Plot)));
    }

    /// <summary>Exit 2, one line naming <paramref name="mentions"/>, nothing printed on stdout (no training started).</summary>
    static string Refused(string[] args, params string[] mentions)
    {
        var r = Gpuae.Run(args);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.BadInput), r.ToString());
        Assert.That(r.ErrLines, Has.Length.EqualTo(1), r.ToString());
        Assert.That(r.ErrLines[0], Does.StartWith("gpuae: ").And.Not.Contains("Exception"));
        foreach (var m in mentions) Assert.That(r.ErrLines[0], Does.Contain(m));
        Assert.That(r.Out, Is.Empty, "refused before any training starts");
        return r.ErrLines[0];
    }

    /// <summary>Root writes anywhere, so a folder it may not write in is made through the seam: every file under it is refused.</summary>
    static IDisposable ReadOnly(string folder) => AtomicFile.Inject((target, temp) =>
        target.StartsWith(Path.GetFullPath(folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? throw new UnauthorizedAccessException($"Access to the path '{temp}' is denied.")
            : new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None));

    [Test]
    public void AReadOnlyOutFolderIsRefusedAndLeftAsItWas()
    {
        var ro = Directory.CreateDirectory(Path.Combine(_dir, "ro")).FullName;
        using (ReadOnly(ro))
        {
            Refused(Train(_data, ro), "--out", ro, "permission denied");
            // A new folder inside a read-only one is refused before it is made.
            Refused(Train(_data, Path.Combine(ro, "run")), "--out", ro, "permission denied");
            // So are -s and -p in a read-only folder.
            Refused(Train(_data, Path.Combine(_dir, "run"), "-s", Path.Combine(ro, "m.safetensors")), "-s", ro, "permission denied");
            Refused(Train(_data, Path.Combine(_dir, "run"), "-p", Path.Combine(ro, "l.png")), "-p", ro, "permission denied");
        }
        Assert.That(Directory.EnumerateFileSystemEntries(ro), Is.Empty);
        Assert.That(Directory.Exists(Path.Combine(_dir, "run")), Is.False);
    }

    [Test]
    public void AnOutThatIsAFileIsRefused()
    {
        var file = Path.Combine(_dir, "out.txt");
        File.WriteAllText(file, "not a folder");
        Refused(Train(_data, file), "--out", $"{file} is a file, not a folder");
        Refused(Train(_data, Path.Combine(file, "run")), "--out", $"{file} is a file, not a folder");
        Assert.That(File.ReadAllText(file), Is.EqualTo("not a folder"));
        Assert.That(Directory.EnumerateFileSystemEntries(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "data", "out.txt" }));
    }

    [TestCase("-s", "model.safetensors")]
    [TestCase("-p", "loss.png")]
    public void SaveOrPlotInAMissingFolderIsRefused(string option, string name)
    {
        var run = Path.Combine(_dir, "run");
        var missing = Path.Combine(_dir, "missing");
        Refused(Train(_data, run, option, Path.Combine(missing, name)), option, $"folder {missing} does not exist");
        Refused(Train(_data, run, option, _dir), option, $"{_dir} is a folder");
        Assert.That(Directory.Exists(run), Is.False, "no output folder is left behind");
        Assert.That(Directory.Exists(missing), Is.False);
    }
}
