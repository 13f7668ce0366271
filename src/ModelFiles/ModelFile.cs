using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.ModelFiles;

/// <summary>
/// Weights with PyTorch's state_dict names and shapes (fc1.weight [392,784] … fc4.bias [784]), so they
/// load into the lab's class and weights trained by PyTorch load here: safetensors by default
/// (<c>safetensors.torch.load_file</c>), PyTorch's own zip format for .pth/.pt (<c>torch.load</c>),
/// and, for reading only, an ONNX autoencoder that gpuae exported.
/// </summary>
public static class ModelFile
{
    /// <summary>Writes in the format <see cref="ModelFormats.ForWriting"/> picks from the name; only safetensors keeps <paramref name="metadata"/>.</summary>
    public static void Save(string path, ParameterLayout layout, float[] flat, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var tensors = layout.ToTensors(flat).ToList();
        if (ModelFormats.ForWriting(path) == ModelFormat.Pth) PthFile.Write(path, tensors);
        else SafeTensors.Write(path, tensors, metadata);
    }

    static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) ReadTensors(string path) => ModelFormats.ContainerOf(path) switch
    {
        ModelFormat.Pth => (PthFile.Read(path), []),
        ModelFormat.Onnx => OnnxModelReader.Read(path),
        _ => SafeTensors.Read(path),
    };

    /// <summary>
    /// Loads weights, inferring the bottleneck from fc2.weight, and checks every tensor's name,
    /// shape and finiteness; <paramref name="expectedBottleneck"/>, when given, must match.
    /// </summary>
    public static (ParameterLayout Layout, float[] Flat, Dictionary<string, string> Metadata) Load(string path, int? expectedBottleneck = null) =>
        FromTensors(ReadTensors(path), Path.GetFileName(path), expectedBottleneck);

    /// <summary><see cref="Load"/> for a file's bytes; <paramref name="file"/> names it in errors.</summary>
    public static (ParameterLayout Layout, float[] Flat, Dictionary<string, string> Metadata) Parse(ReadOnlyMemory<byte> bytes, string file, int? expectedBottleneck = null) =>
        FromTensors(ModelFormats.ContainerOf(bytes.Span, file) switch
        {
            ModelFormat.Pth => (PthFile.Parse(bytes, file), []),
            ModelFormat.Onnx => OnnxModelReader.Parse(bytes, file),
            _ => SafeTensors.Parse(bytes, file),
        }, file, expectedBottleneck);

    static (ParameterLayout Layout, float[] Flat, Dictionary<string, string> Metadata) FromTensors(
        (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) read, string file, int? expectedBottleneck)
    {
        var (tensors, metadata) = read;
        string fc2 = Architecture.BottleneckTensor;
        int bottleneck = Architecture.BottleneckOf(tensors)
            ?? throw new ModelFormatException($"{file}: no 2-D tensor {fc2} of shape [z,{Architecture.Hidden}] with z >= 1, so this is not a gpuae/lab autoencoder");
        if (expectedBottleneck is { } z && z != bottleneck)
            throw new ModelFormatException($"{file}: bottleneck is {bottleneck} (from {fc2}), but {z} was asked for");
        var layout = new ParameterLayout(new Architecture(bottleneck));
        var flat = layout.FromTensors(tensors, what => new ModelFormatException($"{file}: {what}"), finite: true);
        var extra = tensors.Keys.Except(layout.Tensors().Select(t => t.Name)).ToList();
        if (extra.Count > 0)
            throw new ModelFormatException($"{file}: unexpected tensor(s) {string.Join(", ", extra)}");
        return (layout, flat, metadata);
    }
}
