using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using GpuAutoencoder.Training.IO;
using NUnit.Framework;

namespace GpuAutoencoder.Tests;

public class SafeTensorsTests
{
    string _dir = "";

    [SetUp] public void SetUp() => _dir = TestPaths.TempDir("safetensors");
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    static readonly Tensor Weight = new("fc1.weight", [2, 3], [1f, -2.5f, 3e-8f, float.MaxValue, 0f, -0f]);
    static readonly Tensor Bias = new("fc1.bias", [3], [0.25f, float.NaN, float.PositiveInfinity]);

    [Test]
    public void RoundTripsTensorsAndMetadata()
    {
        var path = Path.Combine(_dir, "m.safetensors");
        SafeTensors.Write(path, [Weight, Bias, new("empty", [0], [])], new Dictionary<string, string> { ["epoch"] = "7", ["note"] = "ü \"q\"" });
        var (tensors, metadata) = SafeTensors.Read(path);

        Assert.That(tensors.Keys, Is.EqualTo(new[] { "fc1.weight", "fc1.bias", "empty" }));
        Assert.That(tensors["fc1.weight"].Shape, Is.EqualTo(new[] { 2, 3 }));
        // Bitwise equality, so NaN and -0 must survive too (finiteness is the loader's business).
        Assert.That(tensors["fc1.weight"].Data.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(Weight.Data.Select(BitConverter.SingleToInt32Bits)));
        Assert.That(tensors["fc1.bias"].Data.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(Bias.Data.Select(BitConverter.SingleToInt32Bits)));
        Assert.That(tensors["empty"].Data, Is.Empty);
        Assert.That(metadata, Is.EqualTo(new Dictionary<string, string> { ["epoch"] = "7", ["note"] = "ü \"q\"" }));
    }

    [Test]
    public void WritesTheStandardLayout()
    {
        var path = Path.Combine(_dir, "m.safetensors");
        SafeTensors.Write(path, [Weight, Bias]);
        var bytes = File.ReadAllBytes(path);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(n % 8, Is.Zero, "header padded to 8 bytes");
        Assert.That(bytes, Has.Length.EqualTo(8 + n + 4 * 9));
        using var header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, n));
        var bias = header.RootElement.GetProperty("fc1.bias");
        Assert.That(bias.GetProperty("dtype").GetString(), Is.EqualTo("F32"));
        Assert.That(bias.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(new[] { 24, 36 }));
        Assert.That(BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(8 + n + 4)), Is.EqualTo(-2.5f));
    }

    [Test]
    public void RefusesToWriteDataThatDoesNotMatchItsShape() =>
        Assert.That(() => SafeTensors.Write(Path.Combine(_dir, "x"), [new Tensor("w", [2, 2], [1f])]),
            Throws.ArgumentException.With.Message.Contains("w"));

    /// <summary>A file with the given JSON header and a buffer of bufferBytes zero bytes.</summary>
    string Craft(string name, string json, int bufferBytes, long? claimedLength = null)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + bufferBytes];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, claimedLength ?? header.Length);
        header.CopyTo(bytes, 8);
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static void Rejects(string path, string problem)
    {
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensors.Read(path))!;
        Assert.That(e.Message, Does.StartWith(Path.GetFileName(path) + ": ").And.Contains(problem).And.Not.Contains("\n"));
    }

    [Test]
    public void RejectsFileShorterThanEightBytes()
    {
        var path = Path.Combine(_dir, "tiny.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Rejects(path, "shorter than its header");
    }

    [Test]
    public void RejectsFileShorterThanItsHeader() =>
        Rejects(Craft("short.safetensors", "{}", 0, claimedLength: 1000), "shorter than its header");

    [Test]
    public void RejectsNonJsonHeader() =>
        Rejects(Craft("garbage.safetensors", "{\"a\": [1, 2", 0), "header is not valid JSON");

    [Test]
    public void RejectsOtherDtypes() =>
        Rejects(Craft("half.safetensors", """{"fc1.weight":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}""", 4),
            "tensor fc1.weight has dtype F16; gpuae reads only F32");

    [Test]
    public void RejectsOffsetsOutOfRange() =>
        Rejects(Craft("range.safetensors", """{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8),
            "tensor w has data_offsets [0,16] out of range");

    [Test]
    public void RejectsOffsetsInconsistentWithShape() =>
        Rejects(Craft("shape.safetensors", """{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8),
            "inconsistent with shape [3]");

    [Test]
    public void RejectsMalformedTensorEntries()
    {
        Rejects(Craft("neg.safetensors", """{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}""", 0), "not a non-negative integer");
        Rejects(Craft("noshape.safetensors", """{"w":{"dtype":"F32","data_offsets":[0,0]}}""", 0), "lacks dtype, shape or data_offsets");
        Rejects(Craft("huge.safetensors", """{"w":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,0]}}""", 0), "impossibly large");
    }

    // ---- As strict as the reference implementation (issue 13) ----

    [Test]
    public void AcceptsTensorsListedInAnyOrderThatTileTheBuffer()
    {
        var path = Craft("order.safetensors", """{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 8);
        Assert.That(SafeTensors.Read(path).Tensors.Keys, Is.EqualTo(new[] { "b", "e", "a" }));
    }

    [Test]
    public void RejectsAGapBetweenTensors() =>
        Rejects(Craft("gap.safetensors", """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12),
            "tensor b starts at byte 8, leaving a gap after tensor a, which ends at 4");

    [Test]
    public void RejectsABufferThatNoTensorStartsAtZero() =>
        Rejects(Craft("start.safetensors", """{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8),
            "tensor a starts at byte 4, leaving a gap after the start of the data buffer");

    [Test]
    public void RejectsOverlappingTensors() =>
        Rejects(Craft("overlap.safetensors", """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8),
            "tensor b (bytes 4..8) overlaps tensor a, which ends at 8");

    [Test]
    public void RejectsTwoTensorsOnTheSameBytes() =>
        Rejects(Craft("alias.safetensors", """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4), "overlaps tensor a");

    [TestCase("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4, 4, TestName = "RejectsTrailingBytesAfterTheLastTensor")]
    [TestCase("{}", 0, 8, TestName = "RejectsABufferWithNoTensors")]
    public void RejectsTrailingBytes(string json, int tensorBytes, int trailing) =>
        Rejects(Craft("trailing.safetensors", json, tensorBytes + trailing), $"{trailing} trailing bytes after the last tensor's data");

    [TestCase("F64", 8)]
    [TestCase("F16", 2)]
    [TestCase("BF16", 2)]
    [TestCase("I32", 4)]
    [TestCase("f32", 4)]
    [TestCase("F32 ", 4)]
    public void RejectsEveryDtypeButF32(string dtype, int size) =>
        Rejects(Craft("dtype.safetensors", $$$"""{"a":{"dtype":"{{{dtype}}}","shape":[1],"data_offsets":[0,{{{size}}}]}}""", size),
            $"tensor a has dtype {dtype}; gpuae reads only F32");

    [Test]
    public void RejectsADtypeThatIsNotAString() =>
        Rejects(Craft("dtype.safetensors", """{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}""", 4), "lacks dtype");

    [Test]
    public void RejectsAHeaderOverTheReferenceSizeCap()
    {
        // A complete file whose header really is one byte over the cap: refused for the cap, not for being short.
        const int over = (int)SafeTensors.MaxHeaderBytes + 1;
        var bytes = new byte[8 + over];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, over);
        bytes[8] = (byte)'{';
        bytes.AsSpan(9, over - 2).Fill((byte)' ');
        bytes[^1] = (byte)'}';
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensors.Parse(bytes, "big.safetensors"))!;
        Assert.That(e.Message, Is.EqualTo("big.safetensors: header length 100000001 is over the 100000000-byte limit"));
        Assert.That(SafeTensors.MaxHeaderBytes, Is.EqualTo(100_000_000), "the reference implementation's MAX_HEADER_SIZE");
    }

    [TestCase("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", "key a appears twice in the header")]
    [TestCase("""{"__metadata__":{"k":"1"},"__metadata__":{"k":"2"}}""", "key __metadata__ appears twice in the header")]
    [TestCase("""{"__metadata__":{"k":"1","k":"2"}}""", "key k appears twice in __metadata__")]
    [TestCase("""{"a":{"dtype":"F32","shape":[2],"shape":[1],"data_offsets":[0,4]}}""", "key shape appears twice in tensor a")]
    public void RejectsDuplicateKeys(string json, string problem) =>
        Rejects(Craft("dup.safetensors", json, json.Contains("[4,8]") ? 8 : json.Contains("[0,4]") ? 4 : 0), problem);

    [Test]
    public void RejectsAHeaderThatDoesNotStartWithABrace() =>
        Rejects(Craft("space.safetensors", " {}", 0), "header does not start with '{'");
}
