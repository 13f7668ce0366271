using System.Globalization;
using Google.Protobuf;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training.Model;
using Onnx;
using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.ModelFiles;

/// <summary>Which layers an exported graph holds.</summary>
public enum OnnxPart { Autoencoder, Encoder, Decoder }

/// <summary>
/// The autoencoder as an ONNX graph of Gemm, Relu and Sigmoid nodes with the weights as
/// initializers under their PyTorch names, built from OnnxSharp's generated protobuf classes.
/// Opset 17 and IR version 8, which every ONNX Runtime since 1.13 loads; the batch dimension is
/// symbolic, so one file serves any batch size.
/// </summary>
public static class OnnxExport
{
    public const int Opset = 17;
    public const long IrVersion = 8;
    public const string Producer = "gpuae";
    public const string ImageName = "image", CodeName = "code", ReconstructionName = "reconstruction", BatchDim = "N";
    // Metadata keys: what a reader needs to recognise the file as gpuae's and to rebuild the model.
    public const string PartKey = "gpuae_part", ArchitectureKey = "architecture", BottleneckKey = "bottleneck", SourceKey = "source_sha256";

    public static ModelProto Build(ParameterLayout layout, float[] flat, OnnxPart part, string sourceSha256, string producerVersion)
    {
        var architecture = layout.Architecture;
        int layers = architecture.Layers.Count;
        var (first, last) = part switch
        {
            OnnxPart.Encoder => (0, Architecture.EncoderLayers),
            OnnxPart.Decoder => (Architecture.EncoderLayers, layers),
            _ => (0, layers),
        };
        string input = first == 0 ? ImageName : CodeName, output = last == layers ? ReconstructionName : CodeName;
        int inWidth = architecture.Widths[first], outWidth = architecture.Widths[last];

        var graph = new GraphProto { Name = $"gpuae_{part.ToString().ToLowerInvariant()}" };
        graph.Input.Add(Value(input, inWidth));
        graph.Output.Add(Value(output, outWidth));
        string current = input;
        // The state_dict lists each layer's weight, then its bias.
        var tensors = layout.ToTensors(flat).ToList();
        for (int i = first; i < last; i++)
        {
            var slot = layout.Slots[i];
            var (weightTensor, biasTensor) = (tensors[2 * i], tensors[2 * i + 1]);
            string name = slot.Spec.Name, weight = weightTensor.Name, bias = biasTensor.Name;
            graph.Initializer.Add(Floats(weightTensor));
            graph.Initializer.Add(Floats(biasTensor));
            // nn.Linear: y = x·Wᵀ + b, with W stored [out, in] as PyTorch keeps it.
            var gemm = new NodeProto { OpType = "Gemm", Name = $"{name}_gemm" };
            gemm.Input.Add(current);
            gemm.Input.Add(weight);
            gemm.Input.Add(bias);
            gemm.Output.Add($"{name}_linear");
            gemm.Attribute.Add(new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
            graph.Node.Add(gemm);

            string activation = OpType(slot.Spec.Activation);
            current = i == last - 1 ? output : $"{name}_{activation.ToLowerInvariant()}";
            var act = new NodeProto { OpType = activation, Name = $"{name}_{activation.ToLowerInvariant()}" };
            act.Input.Add($"{name}_linear");
            act.Output.Add(current);
            graph.Node.Add(act);
        }

        string widths = string.Join("-", architecture.Layers.Select(l => l.Inputs).Append(Architecture.Pixels));
        string description = $"MNIST MLP autoencoder {widths} (ReLU, ReLU, ReLU, Sigmoid), bottleneck z = {architecture.Bottleneck}; " +
            $"this file: the {part.ToString().ToLowerInvariant()}, {input} [N, {inWidth}] -> {output} [N, {outWidth}]; " +
            $"weights from a file with SHA-256 {sourceSha256}. Written by gpuae.";
        graph.DocString = description;
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = Producer,
            ProducerVersion = producerVersion,
            DocString = description,
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in new[]
        {
            (PartKey, part.ToString().ToLowerInvariant()),
            (ArchitectureKey, $"{widths} relu,relu,relu,sigmoid"),
            (BottleneckKey, architecture.Bottleneck.ToString(CultureInfo.InvariantCulture)),
            (SourceKey, sourceSha256),
        })
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    /// <summary>The ONNX operator of a layer's activation; the reader expects exactly these.</summary>
    internal static string OpType(Activation activation) => activation == Activation.Sigmoid ? "Sigmoid" : "Relu";

    /// <summary>Writes the graph atomically, so a failed export leaves no partial file.</summary>
    public static void Write(string path, ModelProto model) => AtomicFile.Write(path, s => model.WriteTo(s));

    static ValueInfoProto Value(string name, int width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = BatchDim });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    static TensorProto Floats(Tensor tensor)
    {
        var t = new TensorProto { Name = tensor.Name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.Add(tensor.Shape.Select(d => (long)d));
        t.FloatData.Add(tensor.Data);
        return t;
    }
}
