using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;

namespace GpuAutoencoder.Training.Data;

/// <summary>A data file is unusable; the message names the file and the problem in one line.</summary>
public sealed class DataFormatException(string message) : Exception(message);

public sealed record IdxImages(int Count, int Rows, int Cols, byte[] Pixels);

/// <summary>Reads the IDX files MNIST ships in (big-endian header, then raw bytes), raw or gzipped.</summary>
public static class IdxFile
{
    const int ImageMagic = 0x00000803, LabelMagic = 0x00000801;
    const int ImageHeader = 16, LabelHeader = 8;

    public static IdxImages ReadImages(string path)
    {
        var name = Path.GetFileName(path);
        var (header, pixels) = ReadSplit(path, ImageHeader);
        int count = ReadHeader(header, name, ImageMagic, ImageHeader);
        int rows = ReadInt(header, 8, name, "row count"), cols = ReadInt(header, 12, name, "column count");
        // The model's input layer is 784 wide; anything else is not MNIST.
        if (rows != 28 || cols != 28)
            throw new DataFormatException($"{name}: images are {rows}x{cols}, expected 28x28");
        CheckPayload(pixels, name, (long)count * rows * cols, $"{count} images of {rows}x{cols}");
        return new IdxImages(count, rows, cols, pixels);
    }

    public static byte[] ReadLabels(string path)
    {
        var name = Path.GetFileName(path);
        var (header, labels) = ReadSplit(path, LabelHeader);
        int count = ReadHeader(header, name, LabelMagic, LabelHeader);
        CheckPayload(labels, name, count, $"{count} labels");
        return labels;
    }

    /// <summary>The whole file, decompressed when it starts with the gzip magic (whatever its extension).</summary>
    public static byte[] ReadAllBytes(string path) => Decode(ReadRaw(path), Path.GetFileName(path));

    /// <summary>
    /// The file's first <paramref name="headerSize"/> bytes (fewer if it is shorter) and the rest,
    /// decompressed when gzipped. The payload is what callers keep, so it is decompressed straight
    /// into its own array rather than copied out of a buffer holding the whole file: for the 47 MB
    /// of training images that is the difference between one copy in memory and three.
    /// </summary>
    static (byte[] Header, byte[] Payload) ReadSplit(string path, int headerSize)
    {
        var raw = ReadRaw(path);
        if (raw is [0x1f, 0x8b, ..]) return Gunzip(raw, Path.GetFileName(path), headerSize);
        int split = Math.Min(headerSize, raw.Length);
        return (raw[..split], raw[split..]);
    }

    static byte[] ReadRaw(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new DataFormatException($"{path}: no such file");
        }
    }

    public static string Sha256Hex(params ReadOnlySpan<byte[]> parts)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var part in parts) sha.AppendData(part);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>File bytes as stored, gunzipped when they start with the gzip magic.</summary>
    internal static byte[] Decode(byte[] raw, string name) => raw is [0x1f, 0x8b, ..] ? Gunzip(raw, name, 0).Payload : raw;

    /// <summary>Decompresses into a header of up to <paramref name="headerSize"/> bytes and the payload after it.</summary>
    static (byte[] Header, byte[] Payload) Gunzip(byte[] gz, string name, int headerSize)
    {
        // GZipStream silently stops at the end of a cut-off file, so compare against the size in
        // the gzip trailer (uncompressed length mod 2^32) to tell a truncated download from a good one.
        uint trailer = gz.Length >= 18 ? BinaryPrimitives.ReadUInt32LittleEndian(gz.AsSpan(gz.Length - 4)) : uint.MaxValue;
        var header = new byte[headerSize];
        int headerRead;
        // Sized by the trailer, the payload stream fills exactly and its buffer is the result, with
        // no copy. A trailer that claims more than deflate could plausibly expand to (a damaged
        // file) only costs a growing stream and the error below.
        long expected = (long)trailer - headerSize;
        var payload = new MemoryStream(expected >= 0 && expected <= MaxExpansion * (long)gz.Length ? (int)Math.Min(expected, Array.MaxLength) : 0);
        try
        {
            using var gzip = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress);
            headerRead = gzip.ReadAtLeast(header, headerSize, throwOnEndOfStream: false);
            gzip.CopyTo(payload);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new DataFormatException($"{name}: corrupt or truncated gzip stream ({OneLine(e.Message)})");
        }
        long total = headerRead + payload.Length;
        if (trailer != (uint)total)
            throw new DataFormatException($"{name}: truncated gzip stream: decompressed {total} bytes but the gzip trailer does not match");
        return (headerRead < headerSize ? header[..headerRead] : header,
            payload.Length == payload.Capacity ? payload.GetBuffer() : payload.ToArray());
    }

    /// <summary>Far beyond what MNIST's files compress by (about 5:1), well short of deflate's limit (about 1000:1).</summary>
    const int MaxExpansion = 64;

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

    static void CheckPayload(byte[] payload, string name, long expected, string what)
    {
        long actual = payload.Length;
        if (actual < expected)
            throw new DataFormatException($"{name}: truncated: header says {what} ({expected} bytes) but the payload has {actual} bytes");
        if (actual > expected)
            throw new DataFormatException($"{name}: {actual - expected} trailing bytes: header says {what} ({expected} bytes) but the payload has {actual} bytes");
    }

    internal static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
