using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Training.Data;

public enum MnistSplit { Train, Test }

/// <summary>Images as Count*784 bytes, row-major, one byte per pixel (0 = background).</summary>
public sealed class MnistSet
{
    readonly Lazy<string> _sha256;

    public MnistSet(byte[] images, byte[] labels)
    {
        if (images.Length != (long)labels.Length * Architecture.Pixels)
            throw new ArgumentException($"{images.Length} image bytes do not hold {labels.Length} images of {Architecture.Pixels} pixels");
        Images = images;
        Labels = labels;
        // Hashing 47 MB takes a noticeable moment, and only checkpoint writers need it.
        _sha256 = new(() => IdxFile.Sha256Hex(Images, Labels));
    }

    public int Count => Labels.Length;
    public byte[] Images { get; }
    public byte[] Labels { get; }

    /// <summary>Hex SHA-256 over the image payload followed by the label payload (IDX headers excluded),
    /// so a checkpoint can name the exact data it was trained on, whichever file format it came from.</summary>
    public string Sha256 => _sha256.Value;

    public MnistSet Take(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        n = Math.Min(n, Count);
        return new MnistSet(Images[..(n * Architecture.Pixels)], Labels[..n]);
    }
}

public static class Mnist
{
    public static string[] FileNames(MnistSplit split) => split switch
    {
        MnistSplit.Train => ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
        MnistSplit.Test => ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
        _ => throw new ArgumentOutOfRangeException(nameof(split)),
    };

    /// <summary>The raw file if present, else the .gz one, else null.</summary>
    public static string? Find(string dir, string name) =>
        new[] { name, name + ".gz" }.Select(n => Path.Combine(dir, n)).FirstOrDefault(File.Exists);

    public static MnistSet Load(string dir, MnistSplit split)
    {
        var names = FileNames(split);
        var (imagePath, labelPath) = (Require(dir, names[0]), Require(dir, names[1]));
        var images = IdxFile.ReadImages(imagePath);
        var labels = IdxFile.ReadLabels(labelPath);
        if (images.Count != labels.Length)
            throw new DataFormatException(
                $"{Path.GetFileName(imagePath)} has {images.Count} images but {Path.GetFileName(labelPath)} has {labels.Length} labels");
        int bad = Array.FindIndex(labels, l => l > 9);
        if (bad >= 0)
            throw new DataFormatException($"{Path.GetFileName(labelPath)}: label {labels[bad]} at index {bad} is not a digit");
        return new MnistSet(images.Pixels, labels);
    }

    static string Require(string dir, string name) =>
        Find(dir, name) ?? throw new DataFormatException($"{dir}: no {name}[.gz]");
}
