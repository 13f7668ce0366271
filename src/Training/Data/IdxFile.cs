using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Training.Data;

public sealed record IdxImages(int Count, int Rows, int Cols, byte[] Pixels);

/// <summary>Reads the IDX files MNIST ships in (big-endian header, then raw bytes), raw or gzipped.</summary>
public static class IdxFile
{
    const int ImageMagic = 0x00000803, LabelMagic = 0x00000801;
    const int ImageHeader = 16, LabelHeader = 8;

    public static IdxImages ReadImages(string path)
    {
        var name = Path.GetFileName(path);
        var bytes = ReadAllBytes(path);
        int count = ReadHeader(bytes, name, ImageMagic, ImageHeader);
        int rows = ReadInt(bytes, 8, name, "row count"), cols = ReadInt(bytes, 12, name, "column count");
        // The model's input layer is 784 wide; anything else is not MNIST.
        if (rows != Architecture.ImageSide || cols != Architecture.ImageSide)
            throw new DataFormatException($"{name}: images are {rows}x{cols}, expected {Architecture.ImageSide}x{Architecture.ImageSide}");
        CheckPayload(bytes, name, ImageHeader, (long)count * rows * cols, $"{count} images of {rows}x{cols}");
        return new IdxImages(count, rows, cols, bytes[ImageHeader..]);
    }

    public static byte[] ReadLabels(string path)
    {
        var name = Path.GetFileName(path);
        var bytes = ReadAllBytes(path);
        int count = ReadHeader(bytes, name, LabelMagic, LabelHeader);
        CheckPayload(bytes, name, LabelHeader, count, $"{count} labels");
        return bytes[LabelHeader..];
    }

    /// <summary>The whole file, decompressed when it starts with the gzip magic (whatever its extension).</summary>
    public static byte[] ReadAllBytes(string path)
    {
        var name = Path.GetFileName(path);
        byte[] raw;
        try { raw = File.ReadAllBytes(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new DataFormatException($"{path}: no such file");
        }
        return Decode(raw, name);
    }

    public static string Sha256Hex(params ReadOnlySpan<byte[]> parts)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var part in parts) sha.AppendData(part);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>File bytes as stored, gunzipped when they start with the gzip magic.</summary>
    internal static byte[] Decode(byte[] raw, string name) => raw is [0x1f, 0x8b, ..] ? Gunzip(raw, name) : raw;

    static byte[] Gunzip(byte[] gz, string name)
    {
        var output = new MemoryStream();
        try
        {
            using var gzip = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress);
            gzip.CopyTo(output);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new DataFormatException($"{name}: corrupt or truncated gzip stream ({OneLine(e.Message)})");
        }
        // GZipStream silently stops at the end of a cut-off file, so compare against the size in
        // the gzip trailer (uncompressed length mod 2^32) to tell a truncated download from a good one.
        uint trailer = gz.Length >= 18 ? BinaryPrimitives.ReadUInt32LittleEndian(gz.AsSpan(gz.Length - 4)) : uint.MaxValue;
        if (trailer != (uint)output.Length)
            throw new DataFormatException($"{name}: truncated gzip stream: decompressed {output.Length} bytes but the gzip trailer does not match");
        return output.ToArray();
    }

    static int ReadHeader(byte[] bytes, string name, int magic, int headerSize)
    {
        // Magic first: a labels file passed as images is then reported as such, not as "truncated".
        int actual = bytes.Length >= 4 ? BinaryPrimitives.ReadInt32BigEndian(bytes) : magic;
        if (actual != magic)
            throw new DataFormatException($"{name}: wrong magic number 0x{actual:x8}, expected 0x{magic:x8} ({(magic == ImageMagic ? "images" : "labels")})");
        if (bytes.Length < headerSize)
            throw new DataFormatException($"{name}: truncated: {bytes.Length} bytes is shorter than the {headerSize}-byte IDX header");
        return ReadInt(bytes, 4, name, "item count");
    }

    static int ReadInt(byte[] bytes, int offset, string name, string what)
    {
        int value = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(offset));
        if (value < 0) throw new DataFormatException($"{name}: negative {what} {value} in the header");
        return value;
    }

    static void CheckPayload(byte[] bytes, string name, int headerSize, long expected, string what)
    {
        long actual = bytes.Length - headerSize;
        if (actual < expected)
            throw new DataFormatException($"{name}: truncated: header says {what} ({expected} bytes) but the payload has {actual} bytes");
        if (actual > expected)
            throw new DataFormatException($"{name}: {actual - expected} trailing bytes: header says {what} ({expected} bytes) but the payload has {actual} bytes");
    }

    internal static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
