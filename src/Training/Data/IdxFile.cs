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

    public static IdxImages ReadImages(string path) => ParseImages(ReadFile(path), Path.GetFileName(path));

    public static byte[] ReadLabels(string path) => ParseLabels(ReadFile(path), Path.GetFileName(path));

    /// <summary>An images file's bytes as stored (raw or gzipped); <paramref name="name"/> names it in errors.</summary>
    public static IdxImages ParseImages(byte[] file, string name)
    {
        var (header, pixels) = Split(file, name, ImageHeader);
        int count = ReadHeader(header, name, ImageMagic, ImageHeader);
        int rows = ReadInt(header, 8, name, "row count"), cols = ReadInt(header, 12, name, "column count");
        // The model's input layer is 784 wide; anything else is not MNIST.
        if (rows != Architecture.ImageSide || cols != Architecture.ImageSide)
            throw new DataFormatException($"{name}: images are {rows}x{cols}, expected {Architecture.ImageSide}x{Architecture.ImageSide}");
        CheckPayload(pixels, name, (long)count * rows * cols, $"{count} images of {rows}x{cols}");
        return new IdxImages(count, rows, cols, pixels);
    }

    /// <summary>A labels file's bytes as stored (raw or gzipped); <paramref name="name"/> names it in errors.</summary>
    public static byte[] ParseLabels(byte[] file, string name)
    {
        var (header, labels) = Split(file, name, LabelHeader);
        int count = ReadHeader(header, name, LabelMagic, LabelHeader);
        CheckPayload(labels, name, count, $"{count} labels");
        return labels;
    }

    /// <summary>The whole file, decompressed when it starts with the gzip magic (whatever its extension).</summary>
    public static byte[] ReadAllBytes(string path) => Decode(ReadFile(path), Path.GetFileName(path));

    static byte[] ReadFile(string path)
    {
        try
        {
            // File.ReadAllBytes refuses files over 2 GB with a bare IOException.
            long length = new FileInfo(path).Length;
            if (length > Array.MaxLength)
                throw new DataFormatException($"{Path.GetFileName(path)}: {length} bytes is larger than any MNIST file");
            return File.ReadAllBytes(path);
        }
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
    public static byte[] Decode(byte[] raw, string name)
    {
        if (raw is not [0x1f, 0x8b, ..]) return raw;
        var (header, payload) = Gunzip(raw, name);
        return [.. header, .. payload];
    }

    /// <summary>
    /// The header (up to <paramref name="headerSize"/> bytes) and the payload after it, decompressed
    /// when gzipped. The payload is what callers keep, so a gzipped one is inflated straight into its
    /// own array rather than copied out of a buffer holding the whole file: for the 47 MB of training
    /// images that is one copy in memory instead of three.
    /// </summary>
    static (byte[] Header, byte[] Payload) Split(byte[] file, string name, int headerSize)
    {
        if (file is [0x1f, 0x8b, ..])
        {
            var (header, payload) = Gunzip(file, name);
            // The IDX magic fixes the header's size, so only a file of the wrong kind lands here, and
            // its magic number is refused next.
            if (header.Length != headerSize) file = [.. header, .. payload];
            else return (header, payload);
        }
        int split = Math.Min(headerSize, file.Length);
        return (file[..split], file[split..]);
    }

    /// <summary>Deflate cannot expand data by more than about 1032:1, so a header declaring more than this
    /// many bytes per compressed byte describes content that cannot be in the file.</summary>
    const long MaxInflation = 1032;

    /// <summary>
    /// Inflates exactly the size the IDX header inside the stream declares, and no more: a small file
    /// that inflates without end (a gzip bomb) is refused after one byte past that size, and the buffer
    /// is sized only once the declared size is known to fit the compressed file and its gzip trailer.
    /// </summary>
    static (byte[] Header, byte[] Payload) Gunzip(byte[] gz, string name)
    {
        try
        {
            using var gzip = new GZipStream(new MemoryStream(gz, writable: false), CompressionMode.Decompress);
            Span<byte> magic = stackalloc byte[4];
            int got = ReadFully(gzip, magic);
            if (got < 4)
                throw new DataFormatException($"{name}: truncated: the gzip content ends after {got} bytes, inside the IDX header");
            int elementSize = ElementSize(magic[2]), dims = magic[3];
            if (magic[0] != 0 || magic[1] != 0 || elementSize == 0 || dims == 0)
                throw new DataFormatException($"{name}: wrong magic number 0x{BinaryPrimitives.ReadInt32BigEndian(magic):x8} in the gzip stream, not an IDX file");
            int headerSize = 4 + 4 * dims;
            var header = new byte[headerSize];
            magic.CopyTo(header);
            got = ReadFully(gzip, header.AsSpan(4));
            if (got < headerSize - 4)
                throw new DataFormatException($"{name}: truncated: the gzip content ends after {4 + got} bytes, inside the {headerSize}-byte IDX header");
            long size = elementSize;
            for (int d = 0; d < dims; d++)
            {
                int n = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4 + 4 * d));
                if (n < 0) throw new DataFormatException($"{name}: negative size {n} in the gzip stream's IDX header");
                // Capped so that the product cannot overflow; anything over the cap is refused below.
                size = Math.Min(size * n, (long)Array.MaxLength + 1);
            }
            long total = headerSize + size;
            if (total > Array.MaxLength)
                throw new DataFormatException($"{name}: the gzip stream's IDX header declares {total} bytes, more than any MNIST file holds");
            if (total > MaxInflation * gz.Length + 1024)
                throw new DataFormatException($"{name}: truncated gzip stream: its IDX header declares {total} bytes, more than {gz.Length} compressed bytes can hold");
            // The gzip trailer holds the uncompressed length mod 2^32; GZipStream stops silently at the end of
            // a cut-off file, so this also tells a truncated download from a good one.
            uint trailer = gz.Length >= 18 ? BinaryPrimitives.ReadUInt32LittleEndian(gz.AsSpan(gz.Length - 4)) : uint.MaxValue;
            if (trailer != (uint)total)
                throw new DataFormatException($"{name}: truncated gzip stream: its IDX header declares {total} bytes but the gzip trailer does not match");
            var payload = new byte[size];
            got = ReadFully(gzip, payload);
            if (got < size)
                throw new DataFormatException($"{name}: truncated gzip stream: decompressed {headerSize + got} bytes, but its IDX header declares {total}");
            if (gzip.Read(stackalloc byte[1]) != 0)
                throw new DataFormatException($"{name}: the gzip stream inflates beyond the {total} bytes its IDX header declares");
            return (header, payload);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new DataFormatException($"{name}: corrupt or truncated gzip stream ({OneLine(e.Message)})");
        }
    }

    static int ReadFully(Stream s, Span<byte> buffer)
    {
        int total = 0, n;
        while (total < buffer.Length && (n = s.Read(buffer[total..])) > 0) total += n;
        return total;
    }

    /// <summary>Bytes per element of the IDX type code (0 for a code the format does not define).</summary>
    static int ElementSize(byte type) => type switch
    {
        0x08 or 0x09 => 1,
        0x0B => 2,
        0x0C or 0x0D => 4,
        0x0E => 8,
        _ => 0,
    };

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
