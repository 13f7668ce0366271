using System.CommandLine;
using System.Reflection;
using System.Security.Cryptography;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Cli;

/// <summary>gpuae export: the trained weights as an ONNX graph for ONNX Runtime, ML.NET and other runtimes.</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Weights: safetensors or a torch.save .pth with PyTorch's key names (fc1.weight …).", Required = true };
        var onnx = new Option<string>("--onnx") { Description = "Where to write the ONNX file.", Required = true };
        var part = CommonOptions.Choice("--part", [],
            "autoencoder: image [N,784] -> reconstruction [N,784]; encoder: image -> code [N,z]; decoder: code -> reconstruction.", OnnxPart.Autoencoder);
        var c = new Command("export", "Write the model as an ONNX graph (Gemm, Relu, Sigmoid; opset 17, dynamic batch) for ONNX Runtime.") { model, onnx, part };
        c.SetAction(p => CommonOptions.Run(p.GetValue(CommonOptions.Verbose), () =>
        {
            string modelPath = p.GetValue(model)!, output = p.GetValue(onnx)!;
            var which = part.ValueIn(p);
            if (!File.Exists(modelPath)) throw new UsageException($"--model: no such file {modelPath}");
            var folder = Path.GetDirectoryName(Path.GetFullPath(output))!;
            if (!Directory.Exists(folder)) throw new UsageException($"--onnx: folder {Path.GetDirectoryName(output)} does not exist");
            if (Directory.Exists(output)) throw new UsageException($"--onnx: {output} is a folder");
            var (layout, flat, _) = ModelFile.Load(modelPath);
            string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(modelPath)));
            OnnxExport.Write(output, OnnxExport.Build(layout, flat, which, sha, VersionInfo.Version));
            Console.WriteLine($"wrote {output}: {CommonOptions.Spelling(which)} of the z = {layout.Architecture.Bottleneck} autoencoder, " +
                $"opset {OnnxExport.Opset}, weights SHA-256 {sha[..12]}…");
            return ExitCodes.Ok;
        }));
        return c;
    }
}

/// <summary>The version gpuae was built as, and the commit the SDK appends to the informational version.</summary>
public static class VersionInfo
{
    public static string Informational { get; } =
        typeof(VersionInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>The package's SemVer, without the +commit.</summary>
    public static string Version => Informational.Split('+')[0];
}
