using System.Security.Cryptography;
using Google.Protobuf;
using ExitCodes = GpuAutoencoder.Cli.ExitCodes;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;
using Microsoft.ML.OnnxRuntime;
using InferenceSession = Microsoft.ML.OnnxRuntime.InferenceSession;
using Tensor = GpuAutoencoder.Training.IO.Tensor;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace GpuAutoencoder.Tests;

/// <summary>
/// gpuae export, checked by ONNX Runtime: each part runs 100 test images as gpuae's own kernels do on
/// the CPU accelerator, the encoder then the decoder equals the autoencoder, and the file states what
/// it is. evaluate reads back gpuae's own autoencoder exports and refuses any other graph.
/// </summary>
public class OnnxExportTests
{
    const int Count = 100, Z = 8;
    string _dir = "";

    [SetUp] public void SetUp() => _dir = TestPaths.TempDir("onnx");
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    /// <summary>100 real test images when the shared MNIST is here, generated ones otherwise, scaled to [0, 1].</summary>
    static float[] TestSetImages()
    {
        var bytes = TestPaths.SharedMnist is { } dir
            ? Mnist.Load(dir, MnistSplit.Test).Take(Count).Images
            : TestImages.Synthetic(Count, 77);
        return [.. bytes.Take(Count * Architecture.Pixels).Select(b => b / 255f)];
    }

    /// <summary>Weights saved as a user would have them; scaled up so bottleneck codes reach tens, as a trained model's do.</summary>
    (ParameterLayout Layout, float[] Flat, string Path) Weights(string name = "model.safetensors")
    {
        var layout = new ParameterLayout(new Architecture(Z));
        var flat = layout.Initialize(2024);
        for (int i = 0; i < flat.Length; i++) flat[i] *= 4;
        var path = Path.Combine(_dir, name);
        ModelFile.Save(path, layout, flat);
        return (layout, flat, path);
    }

    string Export(string model, string part)
    {
        var onnx = Path.Combine(_dir, $"{part}.onnx");
        var r = Gpuae.Run("export", "--model", model, "--onnx", onnx, "--part", part);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.Ok), r.ToString());
        return onnx;
    }

    static float[] RunOnnx(string path, string input, float[] values, int width, out int[] outputShape)
    {
        using var session = new InferenceSession(path);
        int rows = values.Length / width;
        var inputs = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor(input, new DenseTensor<float>(values, [rows, width])) };
        using var results = session.Run(inputs);
        var tensor = results.Single().AsTensor<float>();
        outputShape = tensor.Dimensions.ToArray();
        return tensor.ToArray();
    }

    /// <summary>Within 1e-5 · max(1, |expected|) everywhere.</summary>
    static void AssertClose(float[] got, float[] expected, string what)
    {
        Assert.That(got, Has.Length.EqualTo(expected.Length), what);
        for (int i = 0; i < got.Length; i++)
            if (!(Math.Abs(got[i] - expected[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i]))))
                Assert.Fail($"{what}: element {i} is {got[i]}, expected {expected[i]}");
    }

    [Test]
    public void EachPartMatchesGpuaesForwardOnTheCpuAccelerator()
    {
        var (layout, flat, path) = Weights();
        var images = TestSetImages();
        using var model = new DeviceModel(TestAccelerator.Kernels(Schedule.Cpu), layout, flat);
        var codes = model.Encode(images);
        Assert.That(codes.Max(), Is.GreaterThan(5), "the weights should drive codes well above 1, so the relative tolerance matters");

        var fromOnnx = RunOnnx(Export(path, "autoencoder"), OnnxExport.ImageName, images, Architecture.Pixels, out var shape);
        Assert.That(shape, Is.EqualTo(new[] { Count, Architecture.Pixels }));
        AssertClose(fromOnnx, model.Reconstruct(images), "autoencoder");

        var onnxCodes = RunOnnx(Export(path, "encoder"), OnnxExport.ImageName, images, Architecture.Pixels, out shape);
        Assert.That(shape, Is.EqualTo(new[] { Count, Z }));
        AssertClose(onnxCodes, codes, "encoder");

        var decoded = RunOnnx(Export(path, "decoder"), OnnxExport.CodeName, codes, Z, out shape);
        Assert.That(shape, Is.EqualTo(new[] { Count, Architecture.Pixels }));
        AssertClose(decoded, model.Decode(codes), "decoder");

        // ONNX Runtime's encoder then decoder is its autoencoder.
        AssertClose(RunOnnx(Export(path, "decoder"), OnnxExport.CodeName, onnxCodes, Z, out _), fromOnnx, "encoder then decoder");
    }

    [Test]
    public void BatchIsDynamicAndThePthSourceExportsToo()
    {
        var (layout, flat, path) = Weights("MLP.8.pth");
        var onnx = Export(path, "autoencoder");
        using var model = new DeviceModel(TestAccelerator.Kernels(Schedule.Cpu), layout, flat);
        var images = TestSetImages();
        foreach (int rows in new[] { 1, 7 })
        {
            var batch = images[..(rows * Architecture.Pixels)];
            AssertClose(RunOnnx(onnx, OnnxExport.ImageName, batch, Architecture.Pixels, out var shape), model.Reconstruct(batch), $"batch of {rows}");
            Assert.That(shape[0], Is.EqualTo(rows));
        }
    }

    [Test]
    public void FileStatesOpsetIrArchitectureAndTheSourceHash()
    {
        var (_, _, path) = Weights();
        var onnx = Export(path, "encoder");
        using var session = new InferenceSession(onnx);
        var meta = session.ModelMetadata;
        Assert.That(meta.ProducerName, Is.EqualTo("gpuae"));
        Assert.That(meta.Description, Does.Contain("784-392-8-392-784").And.Contain("z = 8"));
        Assert.That(meta.CustomMetadataMap["source_sha256"], Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)))));
        Assert.That(meta.CustomMetadataMap["bottleneck"], Is.EqualTo("8"));
        Assert.That(meta.CustomMetadataMap["architecture"], Does.StartWith("784-392-8-392-784"));
        Assert.That(session.InputMetadata.Keys, Is.EqualTo(new[] { "image" }));
        Assert.That(session.OutputMetadata.Keys, Is.EqualTo(new[] { "code" }));
        Assert.That(session.InputMetadata["image"].Dimensions, Is.EqualTo(new[] { -1, 784 }), "the batch dimension is symbolic");

        var proto = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(onnx));
        Assert.That(proto.IrVersion, Is.InRange(3, 10));
        Assert.That(proto.OpsetImport.Single(o => o.Domain == "").Version, Is.InRange(13, 21));
        Assert.That(proto.Graph.Node.Select(n => n.OpType), Is.EqualTo(new[] { "Gemm", "Relu", "Gemm", "Relu" }));
        Assert.That(proto.Graph.Initializer.Select(t => t.Name), Is.EqualTo(new[] { "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" }));
    }

    [Test]
    public void EvaluateReadsBackAnExportedAutoencoderAsItsSource()
    {
        var (_, _, path) = Weights();
        var onnx = Export(path, "autoencoder");
        // A few hundred generated images: the CPU accelerator is slow, and the point is that both files give the same numbers.
        var data = TestData.Folder(Path.Combine(_dir, "data"), 300);
        var fromSource = Gpuae.Run("evaluate", "--model", path, "--accelerator", "cpu", "--data", data, "--split", "train");
        var fromOnnx = Gpuae.Run("evaluate", "--model", onnx, "--accelerator", "cpu", "--data", data, "--split", "train");
        Assert.That(fromSource.Exit, Is.EqualTo(0), fromSource.ToString());
        Assert.That(fromOnnx.Exit, Is.EqualTo(0), fromOnnx.ToString());
        Assert.That(fromSource.Out, Does.Contain("MSE"), fromSource.ToString());
        Assert.That(fromOnnx.Out.Replace("autoencoder.onnx", "model.safetensors"), Is.EqualTo(fromSource.Out));
    }

    [Test]
    public void OtherOnnxGraphsAreRefusedInOneLine()
    {
        var (_, _, path) = Weights();
        var encoder = Export(path, "encoder");
        var r = Gpuae.Run("evaluate", "--model", encoder, "--accelerator", "cpu", "--data", _dir);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.BadInput), r.ToString());
        Assert.That(r.ErrLines, Is.EqualTo(new[] { "gpuae: encoder.onnx: holds only the encoder; evaluate and the figures need the whole autoencoder (the part an export writes by default)" }));

        // Another producer's graph, even with the same weights and wiring.
        var proto = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Export(path, "autoencoder")));
        proto.ProducerName = "pytorch";
        var foreign = Path.Combine(_dir, "foreign.onnx");
        File.WriteAllBytes(foreign, proto.ToByteArray());
        r = Gpuae.Run("evaluate", "--model", foreign, "--accelerator", "cpu", "--data", _dir);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.BadInput), r.ToString());
        Assert.That(r.ErrLines.Single(), Does.StartWith("gpuae: foreign.onnx: not an ONNX graph that gpuae exported"));

        // gpuae's own metadata on a graph whose wiring was changed.
        proto.ProducerName = "gpuae";
        proto.Graph.Node[1].OpType = "Sigmoid";
        File.WriteAllBytes(foreign, proto.ToByteArray());
        r = Gpuae.Run("evaluate", "--model", foreign, "--accelerator", "cpu", "--data", _dir);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.BadInput), r.ToString());
        Assert.That(r.ErrLines.Single(), Does.Contain("layer fc1 is not Gemm(transB=1) followed by Relu"));

        File.WriteAllBytes(foreign, [0xff, 0xff, 0xff, 0x01, 0x02]);
        r = Gpuae.Run("evaluate", "--model", foreign, "--accelerator", "cpu", "--data", _dir);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.BadInput), r.ToString());
        Assert.That(r.ErrLines, Has.Length.EqualTo(1), r.ToString());
    }

    [Test]
    public void BadExportInputExits2AndLeavesNoOnnxBehind()
    {
        var (_, _, path) = Weights();
        void Refused(string what, params string[] args)
        {
            var r = Gpuae.Run(["export", .. args]);
            Assert.That(r.Exit, Is.EqualTo(ExitCodes.BadInput), $"{what}: {r}");
            Assert.That(r.ErrLines, Has.Length.EqualTo(1), $"{what}: {r}");
            Assert.That(Directory.EnumerateFileSystemEntries(_dir, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".safetensors")), Is.Empty, what);
        }
        Refused("unknown part", "--model", path, "--onnx", Path.Combine(_dir, "x.onnx"), "--part", "middle");
        Refused("missing folder", "--model", path, "--onnx", Path.Combine(_dir, "no", "such", "x.onnx"));
        var notModel = Path.Combine(_dir, "other.safetensors");
        SafeTensors.Write(notModel, [new Tensor("embedding", [4, 2], new float[8])]);
        Refused("not an autoencoder", "--model", notModel, "--onnx", Path.Combine(_dir, "x.onnx"));
        var garbage = Path.Combine(_dir, "garbage.safetensors");
        File.WriteAllBytes(garbage, [1, 2, 3]);
        Refused("not a safetensors", "--model", garbage, "--onnx", Path.Combine(_dir, "x.onnx"));
    }
}
