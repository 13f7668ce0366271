using GpuAutoencoder.Cli;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>Weights written the way PyTorch writes them load with the right bottleneck; broken files are refused in one clear line.</summary>
public class ModelFileTests
{
    string _dir = "";

    [SetUp] public void SetUp() => _dir = TestPaths.TempDir("modelfile");
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// The tensors of the lab's model as safetensors.torch.save_file writes its state_dict: PyTorch's
    /// names and [out, in] shapes, keys in sorted order, and {"format": "pt"} as metadata.
    /// </summary>
    static List<Tensor> PyTorchTensors(int z, int seed)
    {
        var rng = new Random(seed);
        (string Name, int[] Shape)[] shapes =
        [
            ("fc1.weight", [392, 784]), ("fc1.bias", [392]), ("fc2.weight", [z, 392]), ("fc2.bias", [z]),
            ("fc3.weight", [392, z]), ("fc3.bias", [392]), ("fc4.weight", [784, 392]), ("fc4.bias", [784]),
        ];
        return [.. shapes.OrderBy(s => s.Name, StringComparer.Ordinal)
            .Select(s => new Tensor(s.Name, s.Shape, Compare.Random(rng, s.Shape.Aggregate(1, (a, b) => a * b), -0.05f, 0.05f)))];
    }

    string Write(string name, List<Tensor> tensors)
    {
        var path = Path.Combine(_dir, name);
        SafeTensors.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        return path;
    }

    [TestCase(8)]
    [TestCase(3)]
    [TestCase(32)]
    public void PyTorchLayoutLoadsWithTheBottleneckFromTheShapes(int z)
    {
        var tensors = PyTorchTensors(z, z);
        var (layout, flat, metadata) = ModelFile.Load(Write("torch.safetensors", tensors));

        Assert.That(layout.Architecture.Bottleneck, Is.EqualTo(z));
        Assert.That(metadata["format"], Is.EqualTo("pt"));
        foreach (var (name, _, offset, length) in layout.Tensors())
            Assert.That(flat.AsSpan(offset, length).ToArray(), Is.EqualTo(tensors.Single(t => t.Name == name).Data), name);

        // And the device runs it as the float64 reference does.
        using var model = new DeviceModel(TestAccelerator.Kernels(Schedule.Cpu), layout, flat);
        var images = TestImages.Synthetic(3, 1);
        var expected = new ReferenceModel(layout, flat).Forward(ReferenceModel.Scale(images, 0, 3), 3)[^1];
        Compare.Close(model.Reconstruct([.. images.Select(b => b / 255f)]), expected, 1e-5, 1e-4, "reconstruction");
    }

    static void Rejects(string path, string problem)
    {
        var e = Assert.Catch(() => ModelFile.Load(path))!;
        Assert.That(e, Is.TypeOf<ModelFormatException>().Or.TypeOf<SafeTensorsException>());
        Assert.That(e.Message, Does.StartWith(Path.GetFileName(path) + ": ").And.Contains(problem).And.Not.Contains("\n"));
    }

    [Test]
    public void RejectsMissingWrongShapedNonFiniteAndExtraTensors()
    {
        Rejects(Write("missing.safetensors", [.. PyTorchTensors(8, 1).Where(t => t.Name != "fc4.bias")]), "missing tensor fc4.bias");
        Rejects(Write("nofc2.safetensors", [.. PyTorchTensors(8, 1).Where(t => t.Name != "fc2.weight")]), "no 2-D tensor fc2.weight");

        var shapes = PyTorchTensors(8, 1);
        int i = shapes.FindIndex(t => t.Name == "fc3.weight");
        shapes[i] = new Tensor("fc3.weight", [8, 392], shapes[i].Data); // transposed
        Rejects(Write("transposed.safetensors", shapes), "tensor fc3.weight has shape [8,392], expected [392,8]");

        var nan = PyTorchTensors(8, 1);
        nan[0].Data[7] = float.NaN;
        Rejects(Write("nan.safetensors", nan), "non-finite value");

        Rejects(Write("extra.safetensors", [.. PyTorchTensors(8, 1), new Tensor("fc5.weight", [1], [0f])]), "unexpected tensor(s) fc5.weight");

        var garbage = Path.Combine(_dir, "garbage.safetensors");
        File.WriteAllBytes(garbage, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        Rejects(garbage, "shorter than its header");
    }

    [Test]
    public void FigureCommandsReportABadModelInOneLineWithExitCode2()
    {
        var path = Write("broken.safetensors", [.. PyTorchTensors(8, 1).Where(t => t.Name != "fc1.bias")]);
        var stderr = new StringWriter();
        var saved = Console.Error;
        Console.SetError(stderr);
        int code;
        try { code = Program.Main(["evaluate", "--model", path, "--accelerator", "cpu", "--data", _dir]); }
        finally { Console.SetError(saved); }

        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(stderr.ToString().TrimEnd(), Is.EqualTo("gpuae: broken.safetensors: missing tensor fc1.bias"));
    }
}
