using GpuAutoencoder.Training.Data;

namespace GpuAutoencoder.Cli;

/// <summary>
/// The images a run trains on, the first --limit of the training split, and the test split it is
/// measured on after each epoch: the one place train and sweep read them, so both train on the same.
/// </summary>
/// <param name="Test">Null when the folder holds only the training files: the run still trains, without a test MSE.</param>
public sealed record TrainingData(MnistSet Train, MnistSet? Test, string Dir)
{
    public static TrainingData Load(string? dataOption, int? limit)
    {
        var (set, dir) = DataCommand.Load(dataOption, MnistSplit.Train);
        if (limit is { } n)
        {
            if (n > set.Count) throw new UsageException($"--limit: {n} is more than the {set.Count} images in {dir}");
            set = set.Take(n);
        }
        var test = Mnist.FileNames(MnistSplit.Test).All(f => Mnist.Find(dir, f) != null) ? Mnist.Load(dir, MnistSplit.Test) : null;
        return new(set, test, dir);
    }
}
