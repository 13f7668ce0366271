using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using GpuAutoencoder.Cli;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>
/// The 17 bad inputs of issue 5, through the whole command line: each must exit 2 with one line on
/// stderr that names the file or option, print no stack trace, and leave no output behind.
/// </summary>
public class BadInputTests
{
    const int Count = 64;
    string _dir = "", _out = "", _data = "";

    [SetUp]
    public void SetUp()
    {
        _dir = TestPaths.TempDir("bad-input");
        _out = Path.Combine(_dir, "run");
        _data = TestData.Folder(Path.Combine(_dir, "data"), Count);
    }

    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    string Images => Path.Combine(_data, "train-images-idx3-ubyte");
    string Labels => Path.Combine(_data, "train-labels-idx1-ubyte");

    /// <summary>A one-epoch run on the CPU; <paramref name="extra"/> adds options or overrides these defaults.</summary>
    string[] Train(params string[] extra)
    {
        string[] defaults = ["--accelerator", "cpu", "--epochs", "1", "--data", _data, "--out", _out];
        var kept = defaults.Chunk(2).Where(pair => !extra.Contains(pair[0])).SelectMany(pair => pair);
        return ["train", .. kept, .. extra];
    }

    /// <summary>Runs gpuae and checks everything a refusal must do: exit 2, one line naming what is wrong, no stack trace,
    /// and nothing written (no output folder, or an existing one left exactly as it was).</summary>
    string Refused(string[] args, params string[] mentions)
    {
        var before = Directory.Exists(_out) ? Snapshot(_out) : null;
        var r = Gpuae.Run(args);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.BadInput), r.ToString());
        Assert.That(r.ErrLines, Has.Length.EqualTo(1), r.ToString());
        var line = r.ErrLines[0];
        Assert.That(line, Does.StartWith("gpuae: ").And.Not.Contains(" at GpuAutoencoder").And.Not.Contains("Exception"));
        foreach (var m in mentions) Assert.That(line, Does.Contain(m));
        Assert.That(r.Out, Is.Empty, "nothing may start before the input is known to be good");
        if (before == null) Assert.That(Directory.Exists(_out), Is.False, "no output folder may be left behind");
        else Assert.That(Snapshot(_out), Is.EqualTo(before), "the existing folder is left as it was");
        return line;
    }

    string Init(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    string Model(int bottleneck = 8, Func<Tensor, Tensor>? edit = null)
    {
        var layout = new ParameterLayout(new Architecture(bottleneck));
        var flat = layout.Initialize(1);
        var tensors = layout.Tensors().Select(t => new Tensor(t.Name, t.Shape, flat.AsSpan(t.Offset, t.Length).ToArray()))
            .Select(edit ?? (t => t)).OfType<Tensor>().ToList();
        var path = Path.Combine(_dir, "init.safetensors");
        SafeTensors.Write(path, tensors);
        return path;
    }

    static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    [Test]
    public void Case01_TruncatedGzip()
    {
        var gz = Gzip(File.ReadAllBytes(Images));
        File.Delete(Images);
        File.WriteAllBytes(Images + ".gz", gz[..(gz.Length / 2)]);
        Refused(Train(), "train-images-idx3-ubyte.gz", "gzip");
    }

    [Test]
    public void Case02_TruncatedRawIdx()
    {
        var bytes = File.ReadAllBytes(Images);
        File.WriteAllBytes(Images, bytes[..^100]);
        Refused(Train(), "train-images-idx3-ubyte", "truncated");
    }

    [Test]
    public void Case03_WrongMagicNumber()
    {
        File.WriteAllBytes(Labels, TestData.Labels(Count, magic: 0x803));
        Refused(Train(), "train-labels-idx1-ubyte", "wrong magic number 0x00000803");
    }

    [Test]
    public void Case04_ImageAndLabelCountsDisagree()
    {
        File.WriteAllBytes(Labels, TestData.Labels(Count - 1));
        Refused(Train(), $"has {Count} images but train-labels-idx1-ubyte has {Count - 1} labels");
    }

    [Test]
    public void Case05_WrongImageDimensions()
    {
        File.WriteAllBytes(Images, TestData.Images(new byte[Count * 28 * 27], Count, cols: 27));
        Refused(Train(), "train-images-idx3-ubyte", "28x27, expected 28x28");
    }

    [Test]
    public void Case06_DataFolderWithoutTheFiles()
    {
        var empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        Refused(["train", "--data", empty, "--out", _out], empty, "no train-images-idx3-ubyte[.gz]");
        Refused(["train", "--data", Path.Combine(_dir, "absent"), "--out", _out], "--data", "does not exist");
    }

    [Test]
    public void Case07_SafetensorsShorterThanItsHeader()
    {
        var bytes = new byte[20];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        Refused(Train("--init", Init("short.safetensors", bytes)), "short.safetensors", "shorter than its header");
    }

    [Test]
    public void Case08_SafetensorsHeaderIsNotJson()
    {
        var header = Encoding.UTF8.GetBytes("{\"fc1.weight\": [1, 2");
        var bytes = new byte[8 + header.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        Refused(Train("--init", Init("garbage.safetensors", bytes)), "garbage.safetensors", "header is not valid JSON");
    }

    [Test]
    public void Case09_SafetensorsMissingTensorOrWrongShape()
    {
        Refused(Train("--init", Model(edit: t => t.Name == "fc4.bias" ? null! : t)), "init.safetensors", "missing tensor fc4.bias");
        Refused(Train("--init", Model(edit: t => t.Name == "fc1.bias" ? t with { Shape = [2, 196] } : t)),
            "init.safetensors", "tensor fc1.bias has shape [2,196], expected [392]");
    }

    [Test]
    public void Case10_DtypeOtherThanF32()
    {
        var header = Encoding.UTF8.GetBytes("""{"fc1.weight":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}""");
        var bytes = new byte[8 + header.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        Refused(Train("--init", Init("half.safetensors", bytes)), "half.safetensors", "dtype F16; gpuae reads only F32");
    }

    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    [TestCase(float.NegativeInfinity)]
    public void Case11_NonFiniteWeights(float bad)
    {
        var path = Model(edit: t => t.Name == "fc3.weight" ? t with { Data = [.. t.Data[..5], bad, .. t.Data[6..]] } : t);
        Refused(Train("--init", path), "init.safetensors", $"tensor fc3.weight holds a non-finite value ({bad}) at element 5");
    }

    [TestCase("--batch", "0", "must be at least 1")]
    [TestCase("--epochs", "-1", "must be 0 or more")]
    [TestCase("--lr", "NaN", "must be a finite number above 0")]
    [TestCase("--lr", "0", "must be a finite number above 0")]
    [TestCase("--lr", "-0.001", "must be a finite number above 0")]
    [TestCase("--lr", "Infinity", "must be a finite number above 0")]
    [TestCase("--lr", "inf", "Cannot parse argument 'inf'")]
    [TestCase("--checkpoint-every", "0", "must be at least 1")]
    public void Case12_BadTrainingNumbers(string option, string value, string problem) =>
        Refused(Train(option, value), option, problem);

    [Test]
    public void Case13_ZeroBottleneckOrLimitAboveTheDataset()
    {
        Refused(Train("-z", "0"), "--bottleneck", "must be at least 1");
        Refused(Train("--limit", $"{Count + 1}"), "--limit", $"{Count + 1} is more than the {Count} images");
    }

    [Test]
    public void Case14_InitBottleneckDiffersFromZ() =>
        Refused(Train("--init", Model(bottleneck: 8), "-z", "4"), "init.safetensors", "bottleneck is 8 (from fc2.weight), but 4 was asked for");

    [Test]
    public void Case15_ResumeWithoutACheckpointOrWithACorruptOne()
    {
        Directory.CreateDirectory(_out);
        Refused(["train", "--resume", _out, "--data", _data], "--resume", $"holds no {Checkpoint.FileName}");
        Directory.Delete(_out);
        Refused(["train", "--resume", _out, "--data", _data], "--resume", "does not exist");

        Assert.That(Gpuae.Run(Train()).Exit, Is.EqualTo(ExitCodes.Ok));
        var checkpoint = Path.Combine(_out, Checkpoint.FileName);
        var bytes = File.ReadAllBytes(checkpoint);
        bytes[^1000] ^= 0x10;
        File.WriteAllBytes(checkpoint, bytes);
        Refused(["train", "--resume", _out, "--data", _data, "--epochs", "2"], "--resume", Checkpoint.FileName, "checksum mismatch");
    }

    [Test]
    public void Case16_UnknownAccelerator() =>
        Refused(Train("--accelerator", "tpu"), "--accelerator", "'tpu' not recognized");

    [Test]
    public void Case17_OutFolderWithAFinishedRun()
    {
        Assert.That(Gpuae.Run(Train()).Exit, Is.EqualTo(ExitCodes.Ok));
        var before = Snapshot(_out);
        Refused(Train(), "--out", _out, "already holds a finished run", "--force");

        var forced = Gpuae.Run(Train("--force", "--seed", "5"));
        Assert.That(forced.Exit, Is.EqualTo(ExitCodes.Ok), forced.ToString());
        Assert.That(Snapshot(_out)[RunFolder.Model], Is.Not.EqualTo(before[RunFolder.Model]), "--force replaced the run");
    }

    [Test]
    public void CudaWithoutCudaNamesTheAcceleratorsThatExist()
    {
        using (var context = Accelerators.CreateContext())
            if (context.Devices.Any(d => d.AcceleratorType == AcceleratorType.Cuda))
                Assert.Ignore("this machine has CUDA, so the request succeeds");
        Refused(Train("--accelerator", "cuda"), "no cuda accelerator found; available: cpu");
    }

    [Test]
    public void OutOfMemoryIsBadInputOnOneLine()
    {
        var error = new StringWriter();
        var stderr = Console.Error;
        Console.SetError(error);
        try
        {
            int exit = CommonOptions.Run(false, () => throw new DeviceMemoryException("out of memory on cuda (X): training needs 123 bytes", new OutOfMemoryException()));
            Assert.That(exit, Is.EqualTo(ExitCodes.BadInput));
        }
        finally { Console.SetError(stderr); }
        Assert.That(error.ToString(), Is.EqualTo("gpuae: out of memory on cuda (X): training needs 123 bytes; try a smaller --batch or --limit" + Environment.NewLine));
    }

    [Test]
    public void Case18_GzipBombStopsAtItsDeclaredSize()
    {
        File.WriteAllBytes(Images + ".gz", GzipFiles.GzipBomb(File.ReadAllBytes(Images), 32 << 20));
        File.Delete(Images);
        Refused(Train(), "train-images-idx3-ubyte.gz", "inflates beyond the");
    }

    [Test]
    public void Case19_MetricsJsonOfTheWrongShape()
    {
        Directory.CreateDirectory(_out);
        File.WriteAllBytes(Path.Combine(_out, RunFolder.Model), [0]);
        File.WriteAllText(Path.Combine(_out, RunFolder.Metrics), """{"config": [1, 2]}""");
        Refused(["report", "--run", _out, "--data", _data, "--accelerator", "cpu"], "metrics.json: not a gpuae metrics file");
    }

    /// <summary>Architecture refuses a bottleneck of 0 with an ArgumentException, which is now a bug (exit 1): the reader must refuse first.</summary>
    [Test]
    public void Case20_WeightsWithAnEmptyBottleneck() =>
        Refused(Train("--init", Model(edit: t => t.Name == "fc2.weight" ? t with { Shape = [0, 392], Data = [] } : t)),
            "init.safetensors", "no 2-D tensor fc2.weight of shape [z,392] with z >= 1");

    [TestCase("interpolate", "--steps", "1", "must be at least 2")]
    [TestCase("denoise", "--level", "-1", "must be a finite number of 0 or more")]
    [TestCase("interpolate", "--pairs", "0,64", $"image index 64 is outside the split's 0..63")]
    public void Case21_FigureOptionsOutOfRange(string command, string option, string value, string problem) =>
        Refused([command, "--model", Model(), "--data", _data, "--split", "train", "--accelerator", "cpu",
            "--output", Path.Combine(_out, "figure.png"), option, value], option, problem);

    /// <summary>Runs a command body that throws through the CLI's error mapping, with stderr captured.</summary>
    static (int Exit, string[] Lines) Mapped(bool verbose, Func<Exception> thrown)
    {
        var error = new StringWriter();
        var stderr = Console.Error;
        Console.SetError(error);
        int exit;
        try { exit = CommonOptions.Run(verbose, () => throw thrown()); }
        finally { Console.SetError(stderr); }
        return (exit, error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    static IEnumerable<TestCaseData> ReaderErrors() =>
    [
        new(new UsageException("--batch: must be at least 1, got 0")),
        new(new Training.Data.DataFormatException("x-images: truncated")),
        new(new SafeTensorsException("m.safetensors: header is not valid JSON")),
        new(new ModelFormatException("m.safetensors: missing tensor fc1.bias")),
        new(new CheckpointException("checkpoint.safetensors: checksum mismatch")),
        new(new MetricsFormatException("metrics.json: not a gpuae metrics file")),
    ];

    [TestCaseSource(nameof(ReaderErrors))]
    public void EveryReadersRefusalIsBadInputOnOneLine(Exception e)
    {
        var (exit, lines) = Mapped(false, () => e);
        Assert.That(exit, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(lines, Is.EqualTo(new[] { "gpuae: " + e.Message }));
    }

    /// <summary>
    /// Every user-error type of every gpuae project, found by reflection, so that a new reader's error
    /// cannot be left out of the exit-2 path; the named ones must be among them, so the search is not empty.
    /// </summary>
    [Test]
    public void EveryUserErrorTypeIsBadInputOnOneLine()
    {
        var types = new[] { typeof(UserErrorException), typeof(Checkpoint), typeof(ModelFiles.ModelFile), typeof(UsageException) }
            .Select(t => t.Assembly).Distinct().SelectMany(a => a.GetTypes())
            .Where(t => t.IsSubclassOf(typeof(UserErrorException)) && !t.IsAbstract).ToList();
        Assert.That(types, Is.SupersetOf(new[]
        {
            typeof(UsageException), typeof(AcceleratorUnavailableException), typeof(DeviceMemoryException), typeof(Training.Data.DataFormatException),
            typeof(SafeTensorsException), typeof(ModelFormatException), typeof(CheckpointException), typeof(MetricsFormatException),
        }));
        foreach (var type in types)
        {
            string message = $"{type.Name}: what the user can fix";
            var e = (Exception)(type.GetConstructor([typeof(string)]) is { } plain
                ? plain.Invoke([message])
                : type.GetConstructor([typeof(string), typeof(Exception)])!.Invoke([message, new InvalidOperationException("inner")]));
            var (exit, lines) = Mapped(false, () => e);
            Assert.That(exit, Is.EqualTo(ExitCodes.BadInput), type.Name);
            // The CLI adds the flags that help where an option does (the libraries name none).
            string remedy = type == typeof(DeviceMemoryException) ? "; try a smaller --batch or --limit" : "";
            Assert.That(lines, Is.EqualTo(new[] { "gpuae: " + message + remedy }), type.Name);
        }
    }

    [TestCase(typeof(ArgumentException))]
    [TestCase(typeof(ArgumentOutOfRangeException))]
    [TestCase(typeof(IndexOutOfRangeException))]
    [TestCase(typeof(NullReferenceException))]
    [TestCase(typeof(InvalidOperationException))]
    [TestCase(typeof(OverflowException))]
    public void AnInternalErrorIsABugExit1WithTheStackTraceUnderVerbose(Type type)
    {
        Exception Thrown() => (Exception)Activator.CreateInstance(type, "expected 784 values, got 783", new Exception("inner"))!;
        var (exit, lines) = Mapped(false, Thrown);
        Assert.That(exit, Is.EqualTo(ExitCodes.Failure), "a bug is not the user's mistake: exit 1, not 2");
        Assert.That(lines, Has.Length.EqualTo(1));
        Assert.That(lines[0], Does.StartWith($"gpuae: internal error (a bug in gpuae, not in the input): {type.Name}: expected 784 values, got 783")
            .And.EndWith("--verbose shows where"));

        (exit, lines) = Mapped(true, Thrown);
        Assert.That(exit, Is.EqualTo(ExitCodes.Failure));
        Assert.That(lines, Has.Length.GreaterThan(2));
        var frames = lines.Skip(1).Where(l => l.TrimStart().StartsWith("at ")).ToList();
        Assert.That(frames.Any(l => l.Contains("BadInputTests")) && frames.Any(l => l.Contains("CommonOptions.Run")),
            Is.True, "--verbose prints the stack trace down to where it was thrown: " + string.Join("\n", lines));
    }

    [Test]
    public void AFailureOfTheMachineIsExit1ButNotCalledABug()
    {
        var (exit, lines) = Mapped(false, () => new IOException("No space left on device : 'run/metrics.json'"));
        Assert.That(exit, Is.EqualTo(ExitCodes.Failure));
        Assert.That(lines, Is.EqualTo(new[] { "gpuae: error: No space left on device : 'run/metrics.json'" }));
    }

    static Dictionary<string, string> Snapshot(string dir) =>
        Directory.EnumerateFiles(dir).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));
}
