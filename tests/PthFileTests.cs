using System.Diagnostics;
using System.IO.Compression;
using GpuAutoencoder.Cli;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>
/// PyTorch's own state_dict files: gpuae's round-trip, fixtures that torch.save wrote (see
/// tests/data/pth/README.md), and the hostile or broken files that must be refused in one line.
/// </summary>
public class PthFileTests
{
    string _dir = "";

    [SetUp] public void SetUp() => _dir = TestPaths.TempDir("pth");
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    static string Fixture(string name) => Path.Combine(TestPaths.RepoRoot, "tests", "data", "pth", name);

    /// <summary>The formula make_fixtures.py fills the lab model with: tensor t (state_dict order), element k.</summary>
    static float FixtureValue(int t, int k) => (float)(((k * 7L + t * 13) % 103 - 51) / 1024.0);

    (ParameterLayout Layout, float[] Flat, string Path) SavedByGpuae(int z, int seed, string name = "MLP.8.pth")
    {
        var layout = new ParameterLayout(new Architecture(z));
        var flat = layout.Initialize((ulong)seed);
        var path = Path.Combine(_dir, name);
        ModelFile.Save(path, layout, flat);
        return (layout, flat, path);
    }

    [TestCase(8, "MLP.8.pth")]
    [TestCase(3, "model.pt")]
    public void PthRoundTripsEveryParameterBitForBit(int z, string name)
    {
        var (layout, flat, path) = SavedByGpuae(z, 11 + z, name);
        Assert.That(ModelFormats.ContainerOf(path), Is.EqualTo(ModelFormat.Pth), "a .pth must be torch.save's zip, not safetensors");
        using (var zip = ZipFile.OpenRead(path))
        {
            var names = zip.Entries.Select(e => e.FullName).ToList();
            Assert.That(names, Does.Contain("archive/data.pkl").And.Contain("archive/version").And.Contain("archive/data/0"));
            Assert.That(zip.Entries.All(e => e.CompressedLength == e.Length), "torch.save stores entries uncompressed");
        }
        var (loaded, loadedFlat, _) = ModelFile.Load(path);
        Assert.That(loaded.Architecture.Bottleneck, Is.EqualTo(z));
        Assert.That(loadedFlat, Is.EqualTo(flat));
    }

    [Test]
    public void OtherExtensionsStaySafetensors()
    {
        var (_, flat, path) = SavedByGpuae(8, 5, "model.safetensors");
        Assert.That(ModelFormats.ContainerOf(path), Is.EqualTo(ModelFormat.SafeTensors));
        Assert.That(SafeTensors.Read(path).Tensors["fc1.bias"].Data, Is.EqualTo(flat.AsSpan(new ParameterLayout(new Architecture(8)).Slots[0].BiasOffset, 392).ToArray()));
    }

    [Test]
    public void LabStateDictThatTorchSavedLoadsWithItsMetadata()
    {
        // Written by torch.save(model.state_dict()), so data.pkl carries PyTorch's _metadata through BUILD.
        var (layout, flat, _) = ModelFile.Load(Fixture("lab-z2.pth"));
        Assert.That(layout.Architecture.Bottleneck, Is.EqualTo(2));
        int t = 0;
        foreach (var (name, _, offset, length) in layout.Tensors())
        {
            for (int k = 0; k < length; k++)
                if (flat[offset + k] != FixtureValue(t, k))
                    Assert.Fail($"{name}[{k}] is {flat[offset + k]}, torch saved {FixtureValue(t, k)}");
            t++;
        }
    }

    [Test]
    public void TensorsSharingOneStorageReadAtTheirOffsets()
    {
        var tensors = PthFile.Read(Fixture("shared-storage.pth"));
        Assert.That(tensors["a"].Shape, Is.EqualTo(new[] { 2, 3 }));
        Assert.That(tensors["a"].Data, Is.EqualTo(Enumerable.Range(0, 6).Select(i => i / 4f)));
        Assert.That(tensors["b"].Shape, Is.EqualTo(new[] { 3, 4 }));
        Assert.That(tensors["b"].Data, Is.EqualTo(Enumerable.Range(10, 12).Select(i => i / 4f)));
    }

    static Gpuae.Result Summary(string model) => Gpuae.Run("summary", "--model", model);

    static void RefusedInOneLine(Gpuae.Result r, string problem)
    {
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.BadInput), r.ToString());
        Assert.That(r.ErrLines, Has.Length.EqualTo(1), r.ToString());
        Assert.That(r.ErrLines[0], Does.StartWith("gpuae: ").And.Contains(problem), r.ToString());
    }

    [Test]
    public void ForeignGlobalIsRefusedWithoutRunningIt()
    {
        // torch.save pickled an object whose __reduce__ calls os.system; the scan must stop it by name.
        RefusedInOneLine(Summary(Fixture("foreign-global.pth")), "global posix.system");
    }

    [Test]
    public void TruncatedZipIsRefused()
    {
        var bytes = File.ReadAllBytes(Fixture("lab-z2.pth"));
        var path = Path.Combine(_dir, "truncated.pth");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        RefusedInOneLine(Summary(path), "truncated.pth: ");
    }

    [Test]
    public void StorageShorterThanItsTensorIsRefused()
    {
        var (_, _, path) = SavedByGpuae(8, 1);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            // fc1.bias's storage (data/1), one float short.
            var entry = zip.GetEntry("archive/data/1")!;
            byte[] data;
            using (var s = entry.Open()) { var m = new MemoryStream(); s.CopyTo(m); data = m.ToArray(); }
            entry.Delete();
            using var w = zip.CreateEntry("archive/data/1", CompressionLevel.NoCompression).Open();
            w.Write(data.AsSpan(0, data.Length - 4));
        }
        RefusedInOneLine(Summary(path), "storage data/1 holds 1564 bytes");
    }

    [Test]
    public void OversizedPickleIsRefusedBeforeItIsRead()
    {
        var path = Path.Combine(_dir, "huge.pth");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        using (var s = zip.CreateEntry("archive/data.pkl", CompressionLevel.Optimal).Open())
            s.Write(new byte[PthFile.MaxPickleBytes + 1]);
        RefusedInOneLine(Summary(path), "more than the");
    }

    [Test]
    public void TorchLoadsGpuaesPthWithWeightsOnly()
    {
        const string python = "/usr/bin/python3";
        var (layout, flat, path) = SavedByGpuae(8, 42);
        if (!File.Exists(python) || Run(python, "-c", "import torch") != 0)
            Assert.Ignore("PyTorch is not installed here; the committed fixtures cover the other direction");
        var script = Path.Combine(_dir, "check.py");
        File.WriteAllText(script, $$"""
            import sys, torch
            sys.path.insert(0, {{PyString(Path.GetDirectoryName(Fixture("x"))!)}})
            from make_fixtures import MLP
            sd = torch.load(sys.argv[1], weights_only=True)
            model = MLP(8)
            model.load_state_dict(sd)
            with open(sys.argv[2], "w") as f:
                for name, p in model.state_dict().items():
                    f.write(name + " " + " ".join(repr(v) for v in p.flatten()[:5].tolist()) + " " + repr(float(p.sum())) + "\n")
            """);
        var outPath = Path.Combine(_dir, "values.txt");
        Assert.That(Run(python, script, path, outPath), Is.EqualTo(0), "torch.load(weights_only=True) or load_state_dict failed");
        var lines = File.ReadAllLines(outPath);
        var tensors = layout.Tensors().ToList();
        Assert.That(lines, Has.Length.EqualTo(tensors.Count));
        for (int i = 0; i < tensors.Count; i++)
        {
            var parts = lines[i].Split(' ');
            Assert.That(parts[0], Is.EqualTo(tensors[i].Name));
            for (int k = 0; k < 5; k++)
                Assert.That(float.Parse(parts[1 + k], System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(flat[tensors[i].Offset + k]), $"{parts[0]}[{k}]");
        }
    }

    static string PyString(string s) => "'" + s.Replace("\\", "\\\\").Replace("'", "\\'") + "'";

    static int Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) TestContext.Out.WriteLine(err.Result);
        return p.ExitCode;
    }
}
