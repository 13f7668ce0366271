using GpuAutoencoder.Training;
using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.ModelFiles;

/// <summary>The files gpuae keeps weights in. A checkpoint is a safetensors file whose metadata says it is one.</summary>
public enum ModelFormat { SafeTensors, Checkpoint, Pth, Onnx }

/// <summary>
/// The one place that decides how a weights file is read or written. torch.save's zip is told by its
/// first bytes whatever the file is called, since PyTorch users name it freely; ONNX's protobuf has no
/// signature, so it goes by the .onnx extension; everything else is read as safetensors, which refuses
/// what it is not.
/// </summary>
public static class ModelFormats
{
    static ReadOnlySpan<byte> ZipSignature => "PK\x03\x04"u8;

    /// <summary>torch.save's format for the extensions PyTorch users give it (.pth, .pt), safetensors otherwise.</summary>
    public static ModelFormat ForWriting(string path) =>
        Path.GetExtension(path).ToLowerInvariant() is ".pth" or ".pt" ? ModelFormat.Pth : ModelFormat.SafeTensors;

    /// <summary>The container of a file from its first bytes and its name; a checkpoint reads as <see cref="ModelFormat.SafeTensors"/> here.</summary>
    public static ModelFormat ContainerOf(ReadOnlySpan<byte> head, string file) =>
        head.StartsWith(ZipSignature) ? ModelFormat.Pth
        : Path.GetExtension(file).Equals(".onnx", StringComparison.OrdinalIgnoreCase) ? ModelFormat.Onnx
        : ModelFormat.SafeTensors;

    /// <summary><see cref="ContainerOf(ReadOnlySpan{byte}, string)"/> of a file on disk, reading only its first bytes.</summary>
    public static ModelFormat ContainerOf(string path)
    {
        Span<byte> head = stackalloc byte[ZipSignature.Length];
        using var f = File.OpenRead(path);
        int n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return ContainerOf(head[..n], path);
    }

    /// <summary>
    /// The format of a file on disk, telling a run's checkpoint from plain weights. That takes reading the
    /// safetensors file, so a file that is neither torch.save's nor ONNX and not valid safetensors throws
    /// <see cref="SafeTensorsException"/>.
    /// </summary>
    public static ModelFormat Of(string path) => ContainerOf(path) switch
    {
        ModelFormat.SafeTensors when SafeTensors.Read(path).Metadata.GetValueOrDefault("format") == Checkpoint.Format => ModelFormat.Checkpoint,
        var container => container,
    };
}
