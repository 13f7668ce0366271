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
    /// <summary>True for the extensions PyTorch's torch.save files use.</summary>
    public static bool IsPth(string path) =>
        Path.GetExtension(path).ToLowerInvariant() is ".pth" or ".pt";

    public static void Save(string path, ParameterLayout layout, float[] flat, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var tensors = layout.Tensors().Select(t => new Tensor(t.Name, t.Shape, flat.AsSpan(t.Offset, t.Length).ToArray())).ToList();
        if (IsPth(path)) PthFile.Write(path, tensors);
        else SafeTensors.Write(path, tensors, metadata);
    }

    /// <summary>The tensors of a weights file, by its content: torch.save's zip, an ONNX graph (by extension), else safetensors.</summary>
    static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) ReadTensors(string path)
    {
        if (PthFile.LooksLikeZip(path)) return (PthFile.Read(path), []);
        if (Path.GetExtension(path).Equals(".onnx", StringComparison.OrdinalIgnoreCase)) return OnnxModelReader.Read(path);
        return SafeTensors.Read(path);
    }

    /// <summary>
    /// Loads weights, inferring the bottleneck from fc2.weight, and checks every tensor's name,
    /// shape and finiteness; <paramref name="expectedBottleneck"/>, when given, must match.
    /// </summary>
    public static (ParameterLayout Layout, float[] Flat, Dictionary<string, string> Metadata) Load(string path, int? expectedBottleneck = null) =>
        FromTensors(ReadTensors(path), Path.GetFileName(path), expectedBottleneck);

    /// <summary><see cref="Load"/> for a file's bytes; <paramref name="file"/> names it in errors.</summary>
    /// <remarks>The format is chosen as <see cref="Load"/> chooses it: torch.save's zip by content, ONNX by the name's extension, else safetensors.</remarks>
    public static (ParameterLayout Layout, float[] Flat, Dictionary<string, string> Metadata) Parse(ReadOnlyMemory<byte> bytes, string file, int? expectedBottleneck = null) =>
        FromTensors(
            bytes.Span.StartsWith("PK\x03\x04"u8) ? (PthFile.Parse(bytes, file), new Dictionary<string, string>())
            : Path.GetExtension(file).Equals(".onnx", StringComparison.OrdinalIgnoreCase) ? OnnxModelReader.Parse(bytes, file)
            : SafeTensors.Parse(bytes, file),
            file, expectedBottleneck);

    static (ParameterLayout Layout, float[] Flat, Dictionary<string, string> Metadata) FromTensors(
        (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) read, string file, int? expectedBottleneck)
    {
        var (tensors, metadata) = read;
        // The bottleneck is believed only once fc2.weight's data holds it: a shape [N, 0] has no bytes to
        // vouch for N, and a layout built from it could be any size.
        if (!tensors.TryGetValue("fc2.weight", out var fc2) || fc2.Shape.Length != 2 || fc2.Shape[0] < 1 || fc2.Shape[1] != Architecture.Hidden)
            throw new ModelFormatException($"{file}: no 2-D tensor fc2.weight of shape [z,{Architecture.Hidden}] with z >= 1, so this is not a gpuae/lab autoencoder");
        int bottleneck = fc2.Shape[0];
        if (expectedBottleneck is { } z && z != bottleneck)
            throw new ModelFormatException($"{file}: bottleneck is {bottleneck} (from fc2.weight), but {z} was asked for");
        var layout = new ParameterLayout(new Architecture(bottleneck));
        var flat = new float[layout.Length];
        foreach (var (name, shape, offset, length) in layout.Tensors())
        {
            if (!tensors.TryGetValue(name, out var t))
                throw new ModelFormatException($"{file}: missing tensor {name}");
            if (!t.Shape.SequenceEqual(shape))
                throw new ModelFormatException($"{file}: tensor {name} has shape [{string.Join(",", t.Shape)}], expected [{string.Join(",", shape)}]");
            int bad = Array.FindIndex(t.Data, v => !float.IsFinite(v));
            if (bad >= 0)
                throw new ModelFormatException($"{file}: tensor {name} holds a non-finite value ({t.Data[bad]}) at element {bad}");
            t.Data.CopyTo(flat, offset);
        }
        var extra = tensors.Keys.Except(layout.Tensors().Select(t => t.Name)).ToList();
        if (extra.Count > 0)
            throw new ModelFormatException($"{file}: unexpected tensor(s) {string.Join(", ", extra)}");
        return (layout, flat, metadata);
    }
}
