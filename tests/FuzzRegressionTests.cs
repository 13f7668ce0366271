using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Google.Protobuf;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;
using Onnx;

namespace GpuAutoencoder.Tests;

/// <summary>Failures the fuzzer found, each kept as a test of its own (issue 13). The comment names the run that found it.</summary>
public class FuzzRegressionTests
{
    static byte[] SafeTensorsFile(byte[] header)
    {
        var file = new byte[8 + header.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        return file;
    }

    /// <summary>
    /// Fuzz_Checkpoint, seed 20261129, cases 22, 66, 110, 278 and more: a byte overwritten inside a key or a metadata
    /// string made the header invalid UTF-8. JsonDocument parses such a header and throws InvalidOperationException
    /// only when the string is read, which the CLI would now report as a bug in gpuae.
    /// </summary>
    [TestCase("{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", TestName = "FuzzFound_InvalidUtf8InATensorNameIsRefused")]
    [TestCase("{\"__metadata__\":{\"k\":\"v\xff\"}}", TestName = "FuzzFound_InvalidUtf8InAMetadataValueIsRefused")]
    [TestCase("{\"a\":{\"dtype\xfe\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", TestName = "FuzzFound_InvalidUtf8InAFieldNameIsRefused")]
    public void InvalidUtf8InTheHeader(string latin1)
    {
        // Latin-1 keeps \xff as the single byte 0xFF, which no UTF-8 text contains.
        var file = SafeTensorsFile(Encoding.Latin1.GetBytes(latin1));
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensors.Parse(file, "bad-utf8.safetensors"))!;
        Assert.That(e.Message, Is.EqualTo("bad-utf8.safetensors: header is not valid UTF-8"));
    }

    // ---- .pth (FuzzModelFileTests.Fuzz_Pth) ----

    static byte[] SmallPth()
    {
        var dir = TestPaths.TempDir("fuzz-found-pth");
        try
        {
            var path = Path.Combine(dir, "small.pth");
            PthFile.Write(path, [new Tensor("empty", [0, 4], []), new Tensor("fc1.bias", [3], [0.25f, -1, 7])]);
            return File.ReadAllBytes(path);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>
    /// Fuzz_Pth, seed 20261129, cases 1427, 1712, 1764, 1936, 1978: a flipped or overwritten byte inside data.pkl (a
    /// tensor's name) loaded as a state_dict with another name. ZipArchive does not check a stored entry's CRC-32.
    /// </summary>
    [Test]
    public void FuzzFound_PthAByteChangedInsideDataPklIsRefusedByItsCrc()
    {
        var file = SmallPth();
        int name = file.AsSpan().IndexOf("empty"u8);
        Assert.That(name, Is.GreaterThan(0), "the pickle stores the name as text");
        file[name + 2] ^= 0x08; // "empty" -> "exty"-like: still valid UTF-8, still a valid pickle
        var e = Assert.Throws<ModelFormatException>(() => PthFile.Parse(file, "small.pth"))!;
        Assert.That(e.Message, Is.EqualTo("small.pth: archive/data.pkl does not match its CRC-32; the file is damaged"));
    }

    /// <summary>Fuzz_Pth, seed 20261129, cases 504 and 636: an opcode byte 0x0a ('\n') printed as a character made the refusal two lines.</summary>
    [Test]
    public void FuzzFound_PthAnUnprintableOpcodeKeepsTheRefusalOnOneLine()
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        using (var s = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open())
            s.Write([0x80, 0x02, 0x0a, (byte)'.']);
        var e = Assert.Throws<ModelFormatException>(() => PthFile.Parse(ms.ToArray(), "bad.pth"))!;
        Assert.That(e.Message, Is.EqualTo("bad.pth: data.pkl uses pickle opcode 0x0a, which a state_dict of float tensors does not; refused"));
    }

    // ---- ONNX (FuzzModelFileTests.Fuzz_Onnx) ----

    static ModelProto Export() =>
        OnnxExport.Build(new ParameterLayout(new Architecture(1)), new ParameterLayout(new Architecture(1)).Initialize(3), OnnxPart.Autoencoder, "00ff", "test");

    /// <summary>
    /// Fuzz_Onnx, seed 20261129, cases 186, 381, 682 (no output), 691, 722 (two outputs): CheckWiring called Single()
    /// on a node's outputs and threw InvalidOperationException, which the CLI reports as a bug, not as bad input.
    /// </summary>
    [TestCase(0, TestName = "FuzzFound_OnnxANodeWithNoOutputIsRefused")]
    [TestCase(2, TestName = "FuzzFound_OnnxANodeWithTwoOutputsIsRefused")]
    public void OnnxNodeOutputs(int outputs)
    {
        var model = Export();
        var relu = model.Graph.Node[3];
        if (outputs == 0) relu.Output.Clear(); else relu.Output.Add("extra");
        // Through ModelFile.Parse, as evaluate reads an .onnx.
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Parse(model.ToByteArray(), "model.onnx"))!;
        Assert.That(e.Message, Is.EqualTo("model.onnx: its layer fc2 is not Gemm(transB=1) followed by Relu as gpuae exports it"));
    }

    /// <summary>
    /// Fuzz_Onnx, seed 20261129, case 1132: a flipped bit in an initializer's tag made protobuf skip it as an unknown
    /// field, and the graph loaded with 7 tensors: the wiring named fc2.weight but never checked that it was there.
    /// </summary>
    [Test]
    public void FuzzFound_OnnxAGemmWhoseWeightIsNotAnInitializerIsRefused()
    {
        var model = Export();
        var lost = model.Graph.Initializer.Single(t => t.Name == "fc2.weight");
        model.Graph.Initializer.Remove(lost);
        var e = Assert.Throws<ModelFormatException>(() => OnnxModelReader.Parse(model.ToByteArray(), "model.onnx"))!;
        Assert.That(e.Message, Is.EqualTo("model.onnx: its layer fc2 is not Gemm(transB=1) followed by Relu as gpuae exports it"));
    }

    /// <summary>
    /// Fuzz_Onnx, seed 20261129, cases 76, 93, 478, 495, 744: a file cut between two metadata entries (written last)
    /// is still valid protobuf, and loaded with fewer entries. Every export has all four keys, so a missing one is refused.
    /// </summary>
    [Test]
    public void FuzzFound_OnnxCutBetweenItsMetadataEntriesIsRefused()
    {
        var model = Export();
        var bytes = model.ToByteArray();
        var shorter = model.Clone();
        shorter.MetadataProps.RemoveAt(shorter.MetadataProps.Count - 1);
        int cut = shorter.CalculateSize();
        Assert.That(bytes.AsSpan(0, cut).SequenceEqual(shorter.ToByteArray()), "metadata is written last, so the cut file is the export without its last entry");
        var e = Assert.Throws<ModelFormatException>(() => OnnxModelReader.Parse(bytes.AsMemory(0, cut), "model.onnx"))!;
        Assert.That(e.Message, Is.EqualTo($"model.onnx: lacks the metadata {OnnxExport.SourceKey} that every gpuae export has, so it is cut short or not gpuae's"));
    }
}
