using System.Buffers.Binary;
using Google.Protobuf;
using GpuAutoencoder.Training.Model;
using Onnx;
using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.ModelFiles;

/// <summary>
/// Reads back the weights of a whole autoencoder that gpuae exported to ONNX, so a deployed file can
/// be checked with evaluate and the figures. Any other graph (another producer, only the encoder or
/// decoder, other operators or wiring) is refused: gpuae runs its own kernels, not the graph.
/// </summary>
public static class OnnxModelReader
{
    /// <summary>The largest ONNX file read: the autoencoder's weights are a few megabytes.</summary>
    public const long MaxBytes = 256L << 20;

    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        string file = Path.GetFileName(path);
        long length = new FileInfo(path).Length;
        if (length > MaxBytes) throw Error(file, $"{length} bytes is more than an exported autoencoder can be");
        return Parse(File.ReadAllBytes(path), file);
    }

    /// <summary><see cref="Read"/> for a file's bytes; <paramref name="file"/> names it in errors.</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Parse(ReadOnlyMemory<byte> bytes, string file)
    {
        if (bytes.Length > MaxBytes) throw Error(file, $"{bytes.Length} bytes is more than an exported autoencoder can be");
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(bytes.Span); }
        catch (InvalidProtocolBufferException e) { throw Error(file, $"not an ONNX model ({e.Message.ReplaceLineEndings(" ")})"); }

        var metadata = model.MetadataProps.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value);
        if (model.ProducerName != OnnxExport.Producer || !metadata.TryGetValue(OnnxExport.PartKey, out var part))
            throw Error(file, $"not an ONNX graph that gpuae exported (producer '{model.ProducerName}'); gpuae reads back only its own exports");
        // Every export carries all four keys and writes them last, so a file cut at a field boundary among them, which is still
        // valid protobuf, is told from a whole one by a missing key.
        var missing = new[] { OnnxExport.ArchitectureKey, OnnxExport.BottleneckKey, OnnxExport.SourceKey }.Where(k => !metadata.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            throw Error(file, $"lacks the metadata {string.Join(", ", missing)} that every gpuae export has, so it is cut short or not gpuae's");
        if (part != "autoencoder")
            throw Error(file, $"holds only the {part}; evaluate and the figures need the whole autoencoder (the part an export writes by default)");
        var graph = model.Graph ?? throw Error(file, "has no graph");

        var tensors = new Dictionary<string, Tensor>();
        foreach (var t in graph.Initializer)
        {
            // ONNX names are single-assignment: a second initializer of one name is not a graph gpuae wrote.
            if (tensors.ContainsKey(t.Name)) throw Error(file, $"has two initializers named {t.Name}");
            if (t.DataType != (int)TensorProto.Types.DataType.Float) throw Error(file, $"initializer {t.Name} is not float32");
            var shape = t.Dims.Select(d => d is >= 0 and <= int.MaxValue ? (int)d : throw Error(file, $"initializer {t.Name} has dimension {d}")).ToArray();
            long count = shape.Aggregate(1L, (n, d) => n * d);
            float[] data;
            if (t.FloatData.Count > 0) data = [.. t.FloatData];
            else
            {
                var raw = t.RawData.Span;
                if (raw.Length % 4 != 0) throw Error(file, $"initializer {t.Name} has {raw.Length} raw bytes, not whole floats");
                data = new float[raw.Length / 4];
                for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]);
            }
            if (data.Length != count) throw Error(file, $"initializer {t.Name} has {data.Length} values for shape [{string.Join(",", shape)}]");
            tensors[t.Name] = new Tensor(t.Name, shape, data);
        }
        CheckWiring(file, graph);
        return (tensors, metadata);
    }

    /// <summary>The graph must compute exactly what gpuae's kernels will: Gemm(transB) then the layer's activation, four times, in order.</summary>
    static void CheckWiring(string file, GraphProto graph)
    {
        // Names and activations do not depend on the bottleneck, which is not known yet.
        var layers = new Architecture().Layers;
        var nodes = graph.Node;
        if (nodes.Count != 2 * layers.Count || graph.Input.Count(i => graph.Initializer.All(t => t.Name != i.Name)) != 1 || graph.Output.Count != 1)
            throw Error(file, "its graph is not the 4-layer autoencoder gpuae exports");
        string current = graph.Input.First(i => graph.Initializer.All(t => t.Name != i.Name)).Name;
        for (int layer = 0; layer < layers.Count; layer++)
        {
            var (gemm, act) = (nodes[2 * layer], nodes[2 * layer + 1]);
            string name = layers[layer].Name, activation = OnnxExport.OpType(layers[layer].Activation);
            // Output counts first: Single() on a node with none or two would throw, not refuse.
            // The weights a Gemm names must be initializers: a lost one (a damaged tag makes protobuf skip it) is otherwise a
            // graph input that evaluate would never feed.
            bool ok = gemm.Output.Count == 1 && act.Output.Count == 1 && gemm.OpType == "Gemm"
                && graph.Initializer.Any(t => t.Name == $"{name}.weight") && graph.Initializer.Any(t => t.Name == $"{name}.bias") && gemm.Domain == "" && gemm.Input.SequenceEqual([current, $"{name}.weight", $"{name}.bias"])
                && gemm.Attribute.Count == 1 && gemm.Attribute[0] is { Name: "transB", I: 1 }
                && act.OpType == activation && act.Domain == "" && act.Input.SequenceEqual([gemm.Output.Single()]) && act.Attribute.Count == 0;
            if (!ok) throw Error(file, $"its layer {name} is not Gemm(transB=1) followed by {activation} as gpuae exports it");
            current = act.Output.Single();
        }
        if (graph.Output[0].Name != current) throw Error(file, "its output is not the last layer's");
    }

    static ModelFormatException Error(string file, string what) => new($"{file}: {what}");
}
