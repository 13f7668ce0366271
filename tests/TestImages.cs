using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>Images for training tests: real MNIST when the shared data folder is there, generated digits-like blobs otherwise.</summary>
public static class TestImages
{
    /// <summary>The first <paramref name="count"/> training images, [count, 784] bytes.</summary>
    public static byte[] Training(int count) =>
        TestPaths.SharedMnist is { } dir
            ? Mnist.Load(dir, MnistSplit.Train).Take(count).Images
            : Synthetic(count, 1234);

    /// <summary>Random strokes on a dark background: sparse and structured like MNIST, so the model has something to learn.</summary>
    public static byte[] Synthetic(int count, int seed)
    {
        var rng = new Random(seed);
        var images = new byte[count * Architecture.Pixels];
        for (int n = 0; n < count; n++)
        {
            double cx = 8 + rng.NextDouble() * 12, cy = 8 + rng.NextDouble() * 12, r = 3 + rng.NextDouble() * 6, w = 1 + rng.NextDouble() * 1.5;
            for (int y = 0; y < Architecture.ImageSide; y++)
                for (int x = 0; x < Architecture.ImageSide; x++)
                {
                    double d = Math.Abs(Math.Sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) - r);
                    images[n * Architecture.Pixels + y * Architecture.ImageSide + x] = (byte)Math.Clamp(255 * (1 - d / w), 0, 255);
                }
        }
        return images;
    }
}
