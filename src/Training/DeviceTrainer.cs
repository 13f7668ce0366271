using System.Diagnostics;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Training;

/// <summary>
/// Trains the autoencoder with every buffer on the device for the whole run: the dataset (as
/// bytes), the parameters, their gradients, Adam's moments and every activation. Per epoch only a
/// permutation goes up and the epoch's batch losses come back.
/// </summary>
public sealed class DeviceTrainer : IDisposable
{
    readonly DeviceKernels kernels;
    readonly ParameterLayout layout;
    readonly TrainingOptions options;
    readonly int imageCount;
    readonly SplitMix64 shuffleRng;
    readonly List<IDisposable> owned = [];

    readonly MemoryBuffer1D<byte, Stride1D.Dense> images;
    readonly MemoryBuffer1D<int, Stride1D.Dense> permutation;
    readonly MemoryBuffer1D<float, Stride1D.Dense> parameters, gradients, adamM, adamV, batchLosses;
    // activations[0] is the input batch, activations[4] the reconstruction; deltas[l] is the gradient
    // with respect to the pre-activation of layer l's output (the same shape as activations[l + 1]).
    readonly MemoryBuffer1D<float, Stride1D.Dense>[] activations, deltas;

    /// <summary>Adam steps taken so far.</summary>
    public long Step { get; private set; }
    public int BatchesPerEpoch { get; }
    /// <summary>The shuffle generator's state, for checkpoints.</summary>
    public ulong ShuffleState => shuffleRng.State;
    /// <summary>Bytes copied host→device and device→host since the data set was uploaded; the benchmark checks the batch loop adds none.</summary>
    public long BytesToDevice { get; private set; }
    public long BytesFromDevice { get; private set; }
    /// <summary>How often progress may be reported; each report costs one device synchronisation.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(1);

    public DeviceTrainer(DeviceKernels kernels, ParameterLayout layout, byte[] imageBytes, int imageCount,
        TrainingOptions options, float[] initialParameters)
    {
        options.Validate();
        if (initialParameters.Length != layout.Length)
            throw new ArgumentException($"expected {layout.Length} parameters (padded layout), got {initialParameters.Length}");
        this.kernels = kernels;
        this.layout = layout;
        this.options = options;
        this.imageCount = imageCount;
        shuffleRng = new SplitMix64(options.Seed ^ 0x53485546464C45UL); // a stream apart from the initialiser's
        BatchesPerEpoch = (imageCount + options.BatchSize - 1) / options.BatchSize;
        var accelerator = kernels.Accelerator;
        int batch = Math.Min(options.BatchSize, imageCount);

        images = Own(accelerator.Allocate1D(imageBytes.AsSpan(0, imageCount * Architecture.Pixels).ToArray()));
        permutation = Own(accelerator.Allocate1D(Enumerable.Range(0, imageCount).ToArray()));
        parameters = Own(accelerator.Allocate1D(initialParameters));
        gradients = Own(accelerator.Allocate1D<float>(layout.Length));
        adamM = Own(accelerator.Allocate1D<float>(layout.Length));
        adamV = Own(accelerator.Allocate1D<float>(layout.Length));
        gradients.MemSetToZero();
        adamM.MemSetToZero();
        adamV.MemSetToZero();
        batchLosses = Own(accelerator.Allocate1D<float>(BatchesPerEpoch));
        var widths = new[] { Architecture.Pixels }.Concat(layout.Architecture.Layers.Select(l => l.Outputs)).ToArray();
        activations = widths.Select(w => Own(accelerator.Allocate1D<float>((long)batch * w))).ToArray();
        deltas = widths.Skip(1).Select(w => Own(accelerator.Allocate1D<float>((long)batch * w))).ToArray();
    }

    MemoryBuffer1D<T, Stride1D.Dense> Own<T>(MemoryBuffer1D<T, Stride1D.Dense> buffer) where T : unmanaged
    {
        owned.Add(buffer);
        return buffer;
    }

    /// <summary>Trains one epoch (<paramref name="epoch"/> counted from 0) and returns its mean batch loss.</summary>
    public EpochResult TrainEpoch(int epoch, IProgress<BatchProgress>? progress = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        double lr = options.LearningRateAt(epoch);
        if (options.Shuffle)
        {
            permutation.CopyFromCPU(shuffleRng.Permutation(imageCount));
            BytesToDevice += permutation.LengthInBytes;
        }

        for (int b = 0; b < BatchesPerEpoch; b++)
        {
            cancel.ThrowIfCancellationRequested();
            int first = b * options.BatchSize, rows = Math.Min(options.BatchSize, imageCount - first);
            TrainBatch(first, rows, batchLosses.View.SubView(b, 1), lr);

            if (progress != null && clock.Elapsed - lastReport >= ProgressInterval && b + 1 < BatchesPerEpoch)
            {
                // Launches are asynchronous: wait for the device so the numbers are what it has done.
                kernels.Accelerator.Synchronize();
                lastReport = clock.Elapsed;
                progress.Report(new BatchProgress(epoch + 1, b + 1, BatchesPerEpoch, lastReport.TotalSeconds,
                    Math.Min(imageCount, (b + 1) * options.BatchSize) / lastReport.TotalSeconds));
            }
        }
        var losses = batchLosses.GetAsArray1D(); // synchronises
        BytesFromDevice += batchLosses.LengthInBytes;
        double seconds = clock.Elapsed.TotalSeconds;
        return new EpochResult(epoch + 1, losses.Average(l => (double)l), lr, seconds, imageCount / seconds);
    }

    /// <summary>One batch, from dataset bytes to the Adam update; the batch loss lands in <paramref name="loss"/> on the device.</summary>
    void TrainBatch(int first, int rows, ArrayView<float> loss, double learningRate) =>
        RunStep(first, rows, loss, learningRate, KernelFamilies.All);

    /// <summary>
    /// The training step, in order. <paramref name="families"/> selects which kernel families are
    /// launched, so that the benchmark can time each family on exactly the launches training makes.
    /// </summary>
    internal void RunStep(int first, int rows, ArrayView<float> loss, double learningRate, KernelFamilies families)
    {
        bool forward = families.HasFlag(KernelFamilies.ForwardMatmul), backward = families.HasFlag(KernelFamilies.BackwardMatmul);
        bool elementwise = families.HasFlag(KernelFamilies.Elementwise);
        var p = parameters.View;
        var g = gradients.View;
        var slots = layout.Slots;
        if (elementwise)
            kernels.GatherBatch(images.View, permutation.View, first, rows, Architecture.Pixels, Rows(activations[0], rows, Architecture.Pixels));

        for (int l = 0; l < slots.Count && forward; l++)
        {
            var s = slots[l];
            kernels.LinearForward(Rows(activations[l], rows, s.Spec.Inputs), Weight(p, s), Bias(p, s),
                Rows(activations[l + 1], rows, s.Spec.Outputs), rows, s.Spec.Outputs, s.Spec.Inputs, s.Spec.Activation);
        }

        // The target of an autoencoder is its own input.
        if (elementwise)
            kernels.MseSigmoidBackward(Rows(activations[^1], rows, Architecture.Pixels), Rows(activations[0], rows, Architecture.Pixels),
                Rows(deltas[^1], rows, Architecture.Pixels), loss, rows, Architecture.Pixels);

        for (int l = slots.Count - 1; l >= 0; l--)
        {
            var s = slots[l];
            var (outputs, inputs) = (s.Spec.Outputs, s.Spec.Inputs);
            var delta = Rows(deltas[l], rows, outputs);
            var input = Rows(activations[l], rows, inputs);
            if (backward) kernels.LinearBackwardWeight(delta, input, Weight(g, s), rows, outputs, inputs);
            if (elementwise) kernels.ColumnSums(delta, rows, outputs, Bias(g, s));
            // Every layer but the first feeds from a ReLU, whose mask is applied in the same kernel.
            if (backward && l > 0)
                kernels.LinearBackwardInput(delta, Weight(p, s), input, Rows(deltas[l - 1], rows, inputs), rows, outputs, inputs);
        }

        if (!families.HasFlag(KernelFamilies.Adam)) return;
        Step++;
        kernels.Adam(p, g, adamM.View, adamV.View, layout.Length,
            new AdamStep(learningRate, options.Beta1, options.Beta2, options.Epsilon, Step));
    }

    static ArrayView<float> Rows(MemoryBuffer1D<float, Stride1D.Dense> buffer, int rows, int width) => buffer.View.SubView(0, (long)rows * width);
    static ArrayView<float> Weight(ArrayView<float> flat, LayerSlot s) => flat.SubView(s.WeightOffset, s.Spec.WeightCount);
    static ArrayView<float> Bias(ArrayView<float> flat, LayerSlot s) => flat.SubView(s.BiasOffset, s.Spec.Outputs);

    /// <summary>The current parameters in the padded flat layout (synchronises).</summary>
    public float[] DownloadParameters() => parameters.GetAsArray1D();

    /// <summary>The gradients of the last step, in the padded flat layout (synchronises).</summary>
    public float[] DownloadGradients() => gradients.GetAsArray1D();

    public void Dispose()
    {
        foreach (var d in owned) d.Dispose();
    }
}

/// <summary>The kernel families of a training step, as the benchmark reports them.</summary>
[Flags]
public enum KernelFamilies
{
    ForwardMatmul = 1,
    BackwardMatmul = 2,
    /// <summary>Batch gather, the MSE and its gradient, column sums.</summary>
    Elementwise = 4,
    Adam = 8,
    All = ForwardMatmul | BackwardMatmul | Elementwise | Adam,
}
