using System.Buffers.Binary;
using System.Text;
using GpuAutoencoder.Training.IO;

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
}
