using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training.Model;
using static GpuAutoencoder.Training.DeviceLayers;

namespace GpuAutoencoder.Training;

/// <summary>
/// Inference on the accelerator: the parameters live on the device and images go through the same
/// forward kernels as training, in batches of at most <see cref="BatchSize"/> rows, so results match
/// what the trainer computes. Every buffer is allocated once and reused.
/// </summary>
public sealed class DeviceModel : IDisposable
{
    readonly DeviceKernels kernels;
    readonly MemoryBuffer1D<float, Stride1D.Dense> parameters, mean;
    // activations[0] is the input, [CodeLayer] the bottleneck code, the last the reconstruction.
    readonly MemoryBuffer1D<float, Stride1D.Dense>[] activations;
    const int CodeLayer = Architecture.EncoderLayers;

    public ParameterLayout Layout { get; }
    public int BatchSize { get; }
    public int Bottleneck => Layout.Architecture.Bottleneck;

    public DeviceModel(DeviceKernels kernels, ParameterLayout layout, float[] flat, int batchSize = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        this.kernels = kernels;
        Layout = layout;
        BatchSize = batchSize;
        var accelerator = kernels.Accelerator;
        CheckParameterCount(flat.Length);
        parameters = kernels.Transfers.Allocate(flat);
        mean = accelerator.Allocate1D<float>(1);
        activations = layout.Architecture.Widths.Select(w => accelerator.Allocate1D<float>((long)batchSize * w)).ToArray();
    }

    /// <summary>
    /// Replaces the parameters with a device buffer of the same padded layout, without a trip
    /// through the host: the test MSE after each epoch evaluates the trainer's parameters this way.
    /// </summary>
    public void Load(ArrayView<float> flat)
    {
        CheckParameterCount(flat.Length);
        parameters.View.CopyFrom(flat);
    }

    void CheckParameterCount(long length)
    {
        if (length != Layout.Length)
            throw new ArgumentException($"expected {Layout.Length} parameters (padded layout), got {length}");
    }

    /// <summary>Bottleneck codes [rows, z] of images [rows, 784] in [0, 1].</summary>
    public float[] Encode(float[] images) => Run(images, 0, CodeLayer);

    /// <summary>Decoder outputs [rows, 784] of codes [rows, z].</summary>
    public float[] Decode(float[] codes) => Run(codes, CodeLayer, Layout.Slots.Count);

    /// <summary>The whole forward pass: reconstructions [rows, 784] of images [rows, 784].</summary>
    public float[] Reconstruct(float[] images) => Run(images, 0, Layout.Slots.Count);

    /// <summary>Layers [from, to) over rows of activation <paramref name="from"/>, batch by batch.</summary>
    float[] Run(float[] input, int from, int to)
    {
        var widths = Layout.Architecture.Widths;
        int width = widths[from], outWidth = widths[to];
        if (input.Length % width != 0) throw new ArgumentException($"{input.Length} values are not rows of {width}");
        int rows = input.Length / width;
        var output = new float[(long)rows * outWidth];
        for (int first = 0; first < rows; first += BatchSize)
        {
            int n = Math.Min(BatchSize, rows - first);
            kernels.Transfers.Upload(Rows(activations[from], n, width), input.AsSpan(first * width, n * width));
            Forward(n, from, to);
            kernels.Transfers.Download(Rows(activations[to], n, outWidth), output.AsSpan(first * outWidth, n * outWidth));
        }
        return output;
    }

    void Forward(int rows, int from, int to) => DeviceLayers.Forward(kernels, Layout, parameters.View, activations, rows, from, to);

    /// <summary>Puts a data set's bytes on the device once, for repeated evaluation (the test set at every epoch's end).</summary>
    public DeviceImages Upload(byte[] images, int count) => new(kernels, images, count);

    /// <summary>
    /// Reconstructs every image of the set and returns each image's sum of squared errors over its
    /// 784 pixels and its bottleneck code. Both stay on the device until the last batch is done.
    /// </summary>
    public (float[] SquaredErrors, float[] Codes) Evaluate(DeviceImages set)
    {
        using var codes = kernels.Accelerator.Allocate1D<float>((long)set.Count * Bottleneck);
        ForEachBatch(set, (first, n) =>
            Rows(activations[CodeLayer], n, Bottleneck).CopyTo(((ArrayView<float>)codes.View).SubView((long)first * Bottleneck, (long)n * Bottleneck)));
        return (kernels.Transfers.Download(set.SquaredErrors), kernels.Transfers.Download(codes));
    }

    /// <summary>
    /// PyTorch's MSELoss (mean over every element) of the reconstructions of the set, reduced on the
    /// device with the deterministic column-sum kernel; only this one number comes back.
    /// </summary>
    public double MeanSquaredError(DeviceImages set)
    {
        ForEachBatch(set, (_, _) => { });
        kernels.ColumnSums(set.SquaredErrors.View, set.Count, 1, mean.View, 1f / ((float)set.Count * Architecture.Pixels));
        return kernels.Transfers.Download(mean)[0];
    }

    /// <summary>Forward passes over the whole set, leaving each image's squared error in set.SquaredErrors.</summary>
    void ForEachBatch(DeviceImages set, Action<int, int> afterForward)
    {
        for (int first = 0; first < set.Count; first += BatchSize)
        {
            int n = Math.Min(BatchSize, set.Count - first);
            kernels.GatherBatch(set.Images, set.Order, first, n, Architecture.Pixels, Rows(activations[0], n, Architecture.Pixels));
            Forward(n, 0, Layout.Slots.Count);
            kernels.RowSquaredErrors(Rows(activations[^1], n, Architecture.Pixels), Rows(activations[0], n, Architecture.Pixels),
                set.SquaredErrors.View.SubView(first, n), n, Architecture.Pixels);
            afterForward(first, n);
        }
    }

    public void Dispose()
    {
        parameters.Dispose();
        mean.Dispose();
        foreach (var a in activations) a.Dispose();
    }
}

/// <summary>A data set's images as bytes on the device, with the identity order the gather kernel reads them in.</summary>
public sealed class DeviceImages : IDisposable
{
    readonly MemoryBuffer1D<byte, Stride1D.Dense> images;
    readonly MemoryBuffer1D<int, Stride1D.Dense> order;

    public int Count { get; }
    internal ArrayView<byte> Images => images.View;
    internal ArrayView<int> Order => order.View;
    /// <summary>Each image's last sum of squared reconstruction errors.</summary>
    internal MemoryBuffer1D<float, Stride1D.Dense> SquaredErrors { get; }

    public DeviceImages(DeviceKernels kernels, byte[] bytes, int count)
    {
        if (count < 1 || (long)count * Architecture.Pixels > bytes.Length)
            throw new ArgumentException($"{bytes.Length} bytes do not hold {count} images");
        Count = count;
        images = kernels.Transfers.Allocate<byte>(bytes.AsSpan(0, count * Architecture.Pixels));
        order = kernels.Transfers.Allocate(Enumerable.Range(0, count).ToArray());
        SquaredErrors = kernels.Accelerator.Allocate1D<float>(count);
    }

    public void Dispose()
    {
        images.Dispose();
        order.Dispose();
        SquaredErrors.Dispose();
    }
}
