using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>
/// One batch of synthetic images and initial weights drawn from the test seed, with options that
/// train it as a single step in the data's order: the input of every one-step comparison.
/// </summary>
public sealed record OneBatch(ParameterLayout Layout, byte[] Images, float[] Initial, TrainingOptions Options)
{
    public int Rows => Options.BatchSize;

    public static OneBatch Draw(int rows, int bottleneck = 8)
    {
        var layout = new ParameterLayout(new Architecture(bottleneck));
        var rng = TestSeed.Random();
        var images = TestImages.Synthetic(rows, rng.Next());
        var initial = layout.Initialize((ulong)rng.NextInt64());
        return new(layout, images, initial, new TrainingOptions { BatchSize = rows, Bottleneck = bottleneck, Shuffle = false, Epochs = 1 });
    }
}
