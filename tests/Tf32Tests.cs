using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using GpuAutoencoder.Cli;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.Tests;

/// <summary>
/// Everything around the TF32 product that runs without tensor cores: the fragment layout, the refusal on
/// accelerators without TF32, the checkpoint field and the resume rule. The mma itself needs a GPU of
/// compute capability 8.0 or higher; selftest --precision tf32 checks it there.
/// </summary>
public class Tf32Tests
{
    // The PTX ISA's figures for mma.m16n8k8 with .tf32 operands, transcribed register by register as
    // (row, column) offsets from (groupID, threadID_in_group) = (lane / 4, lane % 4); B's row is the depth.
    static readonly (int Row, int Col)[] AOffsets = [(0, 0), (8, 0), (0, 4), (8, 4)];
    static readonly (int Row, int Col)[] BOffsets = [(0, 0), (4, 0)];
    static readonly (int Row, int Col)[] COffsets = [(0, 0), (0, 1), (8, 0), (8, 1)];

    [Test]
    public void FragmentIndicesMatchThePtxLayoutOfM16N8K8Tf32()
    {
        for (int lane = 0; lane < 32; lane++)
        {
            int group = lane / 4, thread = lane % 4;
            for (int reg = 0; reg < 4; reg++)
            {
                Assert.That((Tf32Fragment.ARow(lane, reg), Tf32Fragment.ACol(lane, reg)),
                    Is.EqualTo((group + AOffsets[reg].Row, thread + AOffsets[reg].Col)), $"A: lane {lane}, a{reg}");
                Assert.That((Tf32Fragment.CRow(lane, reg), Tf32Fragment.CCol(lane, reg)),
                    Is.EqualTo((group + COffsets[reg].Row, thread * 2 + COffsets[reg].Col)), $"C: lane {lane}, c{reg}");
            }
            for (int reg = 0; reg < 2; reg++)
                Assert.That((Tf32Fragment.BRow(lane, reg), Tf32Fragment.BCol(lane, reg)),
                    Is.EqualTo((thread + BOffsets[reg].Row, group + BOffsets[reg].Col)), $"B: lane {lane}, b{reg}");
        }
    }

    [Test]
    public void EveryElementOfEachTileIsHeldByExactlyOneLaneRegister()
    {
        void Covers(string tile, int rows, int cols, int registers, Func<int, int, (int, int)> at)
        {
            var seen = new int[rows, cols];
            for (int lane = 0; lane < 32; lane++)
                for (int reg = 0; reg < registers; reg++)
                {
                    var (r, c) = at(lane, reg);
                    Assert.That(r is >= 0 && r < rows && c >= 0 && c < cols, $"{tile}: lane {lane} register {reg} at ({r},{c}) is outside {rows}×{cols}");
                    seen[r, c]++;
                }
            Assert.That(seen.Cast<int>().All(n => n == 1), $"{tile}: some element is held twice or never");
        }
        Covers("A", Tf32Fragment.M, Tf32Fragment.K, 4, (l, r) => (Tf32Fragment.ARow(l, r), Tf32Fragment.ACol(l, r)));
        Covers("B", Tf32Fragment.K, Tf32Fragment.N, 2, (l, r) => (Tf32Fragment.BRow(l, r), Tf32Fragment.BCol(l, r)));
        Covers("C", Tf32Fragment.M, Tf32Fragment.N, 4, (l, r) => (Tf32Fragment.CRow(l, r), Tf32Fragment.CCol(l, r)));
    }

    [Test]
    public void TheCpuAcceleratorRefusesTf32AndNamesItself()
    {
        var device = TestAccelerator.Cpu.Device;
        Assert.That(Precisions.Refusal(device, Precision.Fp32), Is.Null);
        Assert.That(Precisions.Refusal(device, Precision.Tf32), Does.StartWith("tf32: the cpu accelerator").And.Contain(device.Name));
        // The library names the precision; which flag asked for it is the CLI's to say.
        Assert.That(() => new DeviceKernels(TestAccelerator.Cpu, Schedule.Cpu, Precision.Tf32),
            Throws.TypeOf<AcceleratorUnavailableException>().With.Message.StartWith("tf32: the cpu accelerator").And.Message.Not.Contains("--"));
    }

    string _dir = "";
    [SetUp] public void SetUp() => _dir = TestPaths.TempDir("tf32");
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    static string Snapshot(string dir) => string.Join("\n", Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order()
        .Select(f => $"{Path.GetRelativePath(dir, f)} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))}"));

    static void AssertRefused(Gpuae.Result r, params string[] mentions)
    {
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.BadInput), r.ToString());
        Assert.That(r.ErrLines, Has.Length.EqualTo(1), r.ToString());
        foreach (var m in mentions) Assert.That(r.ErrLines[0], Does.Contain(m), r.ToString());
    }

    [Test]
    public void TrainAtTf32OnTheCpuAcceleratorIsRefusedBeforeAnythingIsCreated()
    {
        var data = TestData.Folder(Path.Combine(_dir, "data"), 64);
        var before = Snapshot(_dir);
        var outDir = Path.Combine(_dir, "run");
        AssertRefused(Gpuae.Run("train", "-a", "cpu", "--precision", "tf32", "--epochs", "1", "--data", data, "--out", outDir),
            "--precision tf32", "cpu accelerator");
        Assert.That(Directory.Exists(outDir), Is.False, "no output folder may be left behind");
        Assert.That(Snapshot(_dir), Is.EqualTo(before));
    }

    [Test]
    public void BenchAndSelftestAtTf32OnTheCpuAcceleratorAreRefused()
    {
        AssertRefused(Gpuae.Run("bench", "-a", "cpu", "--precision", "tf32", "--steps", "1", "--batch", "8"), "--precision tf32", "cpu accelerator");
        AssertRefused(Gpuae.Run("selftest", "-a", "cpu", "--precision", "tf32"), "--precision tf32", "cpu accelerator");
    }

    [Test]
    public void CheckpointRecordsTf32AndReadsItBack()
    {
        var path = WriteCheckpoint(Precision.Tf32);
        Assert.That(SafeTensors.Read(path).Metadata["precision"], Is.EqualTo("tf32"));
        Assert.That(Checkpoint.Load(path).Precision, Is.EqualTo(Precision.Tf32));
        Assert.That(Checkpoint.Load(WriteCheckpoint(Precision.Fp32)).Precision, Is.EqualTo(Precision.Fp32));
    }

    [Test]
    public void ACheckpointWithoutThePrecisionKeyReadsAsFp32()
    {
        var path = WriteCheckpoint(Precision.Tf32);
        Resign(path, meta => meta.Remove("precision"));
        Assert.That(Checkpoint.Load(path).Precision, Is.EqualTo(Precision.Fp32));
    }

    [Test]
    public void AnUnknownPrecisionIsRefused()
    {
        var path = WriteCheckpoint(Precision.Fp32);
        Resign(path, meta => meta["precision"] = "bf16");
        Assert.That(() => Checkpoint.Load(path), Throws.TypeOf<CheckpointException>().With.Message.Contains("precision must be fp32 or tf32, got bf16"));
    }

    [Test]
    public void AResumeKeepsTheRunsPrecisionUnlessOneIsGivenAndThenSaysSo()
    {
        Assert.That(RunFolder.ResumePrecision(Precision.Tf32, null), Is.EqualTo((Precision.Tf32, (string?)null)));
        Assert.That(RunFolder.ResumePrecision(Precision.Fp32, null), Is.EqualTo((Precision.Fp32, (string?)null)));
        Assert.That(RunFolder.ResumePrecision(Precision.Tf32, Precision.Tf32), Is.EqualTo((Precision.Tf32, (string?)null)));
        var (switched, notice) = RunFolder.ResumePrecision(Precision.Tf32, Precision.Fp32);
        Assert.That(switched, Is.EqualTo(Precision.Fp32));
        Assert.That(notice, Does.Contain("trained at tf32").And.Contain("continues at fp32"));
    }

    [Test]
    public void ResumingATf32RunOnTheCpuNeedsAnExplicitPrecisionFp32()
    {
        var data = TestData.Folder(Path.Combine(_dir, "data"), 64);
        var run = Path.Combine(_dir, "run");
        string[] train = ["train", "-a", "cpu", "--data", data, "--batch", "32", "--no-progress"];
        var first = Gpuae.Run([.. train, "--epochs", "1", "--out", run]);
        Assert.That(first.Exit, Is.EqualTo(ExitCodes.Ok), first.ToString());
        // A tf32 run's checkpoint, as a GPU would have written it: the same file with its precision changed.
        Resign(Path.Combine(run, Checkpoint.FileName), meta => meta["precision"] = "tf32");
        var before = Snapshot(run);

        AssertRefused(Gpuae.Run([.. train, "--epochs", "2", "--resume", run]), "trained at tf32", "cpu accelerator", "--precision fp32");
        Assert.That(Snapshot(run), Is.EqualTo(before), "a refused resume leaves the run as it was");

        var resumed = Gpuae.Run([.. train, "--epochs", "2", "--resume", run, "--precision", "fp32"]);
        Assert.That(resumed.Exit, Is.EqualTo(ExitCodes.Ok), resumed.ToString());
        Assert.That(resumed.Out, Does.Contain("trained at tf32 and continues at fp32"));
        Assert.That(Checkpoint.Load(Path.Combine(run, Checkpoint.FileName)).Precision, Is.EqualTo(Precision.Fp32));
    }

    string WriteCheckpoint(Precision precision)
    {
        var layout = new Training.Model.ParameterLayout(new Training.Model.Architecture(8));
        var p = layout.Initialize(1);
        var state = new TrainerState(p, new float[p.Length], new float[p.Length], 0, 1, 0, 0, []);
        var path = Path.Combine(_dir, $"{precision}.safetensors");
        new Checkpoint(state, new TrainingOptions(), 100, null, "sha", "cuda", "GPU", "gpu-tiled", []) { Precision = precision }.Save(path);
        return path;
    }

    /// <summary>Changes a checkpoint's metadata and signs it again with the checksum docs/CHECKPOINT.md describes.</summary>
    static void Resign(string path, Action<Dictionary<string, string>> change)
    {
        var (tensors, metadata) = SafeTensors.Read(path);
        change(metadata);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Text(string s) { sha.AppendData(Encoding.UTF8.GetBytes(s)); sha.AppendData([0]); }
        foreach (var (key, value) in metadata.Where(m => m.Key != "checksum").OrderBy(m => m.Key, StringComparer.Ordinal)) { Text(key); Text(value); }
        var bytes = new byte[8];
        foreach (var t in tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            Text(t.Name);
            foreach (var d in t.Shape) { BinaryPrimitives.WriteInt64LittleEndian(bytes, d); sha.AppendData(bytes); }
            foreach (var v in t.Data) { BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(0, 4), v); sha.AppendData(bytes.AsSpan(0, 4)); }
        }
        metadata["checksum"] = "sha256:" + Convert.ToHexStringLower(sha.GetHashAndReset());
        SafeTensors.Write(path, [.. tensors.Values], metadata);
    }
}
