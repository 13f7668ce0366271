using System.Diagnostics;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training.Model;
using static GpuAutoencoder.Training.DeviceLayers;

namespace GpuAutoencoder.Training;

/// <summary>
/// Trains the autoencoder with every buffer on the device for the whole run: the dataset (as
/// bytes), the parameters, their gradients, Adam's moments (in its <see cref="AdamOptimizer"/>) and
/// every activation. Per epoch only a permutation goes up and the epoch's batch losses come back.
/// </summary>
public sealed class DeviceTrainer : IDisposable
{
    readonly DeviceKernels kernels;
    readonly ParameterLayout layout;
    readonly TrainingOptions options;
    readonly int imageCount;
    readonly List<IDisposable> owned = [];
    SplitMix64 shuffleRng;

    // Where the run stands: the epoch being trained (or next to start) and its batches done. An epoch
    // is "open" from the draw of its permutation until its last batch; a stop request can leave it open.
    int epoch, batch;
    bool epochOpen;
    ulong epochShuffleState;

    readonly MemoryBuffer1D<byte, Stride1D.Dense> images;
    readonly MemoryBuffer1D<int, Stride1D.Dense> permutation;
    readonly MemoryBuffer1D<float, Stride1D.Dense> parameters, gradients, batchLosses, stepLoss;
    // The batch of the epoch that the next step trains, on the device: a step reads it and moves it
    // on (EndBatch), so that its launches take the same arguments at every batch and can be replayed.
    readonly MemoryBuffer1D<int, Stride1D.Dense> batchCursor;
    // activations[0] is the input batch, activations[4] the reconstruction; deltas[l] is the gradient
    // with respect to the pre-activation of layer l's output (the same shape as activations[l + 1]).
    readonly MemoryBuffer1D<float, Stride1D.Dense>[] activations, deltas;
    readonly AdamOptimizer adam;
    // The bias gradients a backward pass leaves for its last launch; reused so a step allocates nothing.
    readonly ColumnSumJob[] biasJobs;
    // The steps captured so far, one per batch size (the last batch of an epoch may be smaller), with
    // the scratch generation they were captured at.
    readonly Dictionary<int, (ReplayableWork Work, int Generation)> capturedSteps = [];

    /// <summary>Adam steps taken so far.</summary>
    public long Step => adam.Step;
    public int BatchesPerEpoch { get; }
    /// <summary>The shuffle generator's state, for checkpoints.</summary>
    public ulong ShuffleState => shuffleRng.State;
    /// <summary>The epoch (counted from 0) that the next <see cref="TrainEpoch"/> trains or continues.</summary>
    public int Epoch => epoch;
    /// <summary>Batches of <see cref="Epoch"/> already trained: non-zero only after a stop inside an epoch.</summary>
    public int BatchInEpoch => batch;
    /// <summary>How often progress may be reported; each report costs one device synchronisation.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>
    /// Whether a step is captured once (per batch size) and replayed as a CUDA graph, where the
    /// accelerator allows; when false, or where it does not, every step launches its kernels.
    /// </summary>
    public bool ReplaySteps { get; init; } = true;
    /// <summary>
    /// How the last step ran: "cuda graph", or "plain launches (why)"; null before the first step.
    /// A CUDA run that says plain launches lost the graph for the reason given.
    /// </summary>
    public string? StepPath { get; private set; }

    public DeviceTrainer(DeviceKernels kernels, ParameterLayout layout, byte[] imageBytes, int imageCount,
        TrainingOptions options, float[] initialParameters, long? memoryBudget = null)
    {
        options.Validate();
        if (initialParameters.Length != layout.Length)
            throw new ArgumentException($"expected {layout.Length} parameters (padded layout), got {initialParameters.Length}");
        this.kernels = kernels;
        this.layout = layout;
        this.options = options;
        this.imageCount = imageCount;
        shuffleRng = new SplitMix64(options.Seed ^ 0x53485546464C45UL); // a stream apart from the initialiser's
        BatchesPerEpoch = (int)((imageCount + (long)options.BatchSize - 1) / options.BatchSize);
        var accelerator = kernels.Accelerator;
        int rows = Math.Min(options.BatchSize, imageCount);

        var widths = layout.Architecture.Widths;
        biasJobs = new ColumnSumJob[layout.Slots.Count];
        long needed = DeviceBytes(layout, imageCount, options.BatchSize);
        try
        {
            if (needed > (memoryBudget ?? accelerator.MemorySize))
                throw new OutOfMemoryException(memoryBudget is { } budget ? $"the budget is {budget:N0} bytes" : $"the device has {accelerator.MemorySize:N0} bytes");
            images = Own(kernels.Transfers.Allocate<byte>(imageBytes.AsSpan(0, imageCount * Architecture.Pixels)));
            permutation = Own(kernels.Transfers.Allocate(Enumerable.Range(0, imageCount).ToArray()));
            parameters = Own(kernels.Transfers.Allocate(initialParameters));
            gradients = Own(accelerator.Allocate1D<float>(layout.Length));
            gradients.View.MemSetToZero(kernels.Stream);
            batchLosses = Own(accelerator.Allocate1D<float>(BatchesPerEpoch));
            stepLoss = Own(accelerator.Allocate1D<float>(1));
            batchCursor = Own(accelerator.Allocate1D<int>(1));
            batchCursor.View.MemSetToZero(kernels.Stream);
            activations = widths.Select(w => Own(accelerator.Allocate1D<float>((long)rows * w))).ToArray();
            deltas = widths.Skip(1).Select(w => Own(accelerator.Allocate1D<float>((long)rows * w))).ToArray();
            // One upload covers an epoch (the learning rate changes each epoch), or 512 steps at one rate.
            owned.Add(adam = new AdamOptimizer(kernels, layout.Length, Math.Max(BatchesPerEpoch, 512), options.Beta1, options.Beta2, options.Epsilon));
        }
        catch (Exception e) when (e is OutOfMemoryException or AcceleratorException)
        {
            Dispose();
            throw new DeviceMemoryException(
                $"out of memory on {Accelerators.Name(accelerator.AcceleratorType)} ({accelerator.Name}): training {imageCount} images " +
                $"in batches of {rows} needs {needed:N0} bytes on the device ({e.Message.ReplaceLineEndings(" ")})", e);
        }
    }

    /// <summary>Device memory a trainer allocates: the dataset, the parameters and gradients, Adam's moments, and the activations and deltas of a batch.</summary>
    public static long DeviceBytes(ParameterLayout layout, int imageCount, int batchSize)
    {
        long rows = Math.Min(batchSize, imageCount), batches = (imageCount + (long)batchSize - 1) / batchSize;
        var widths = layout.Architecture.Widths;
        return (long)imageCount * Architecture.Pixels + 4L * imageCount + 2 * 4L * layout.Length + AdamOptimizer.DeviceBytes(layout.Length) + 4 * batches + 8
            + 4 * rows * (widths.Sum(w => (long)w) + widths.Skip(1).Sum(w => (long)w));
    }

    MemoryBuffer1D<T, Stride1D.Dense> Own<T>(MemoryBuffer1D<T, Stride1D.Dense> buffer) where T : unmanaged
    {
        owned.Add(buffer);
        return buffer;
    }

    /// <summary>
    /// Trains epoch <paramref name="epoch"/> (counted from 0), or the rest of it when an earlier call
    /// stopped inside it, and returns its mean batch loss. When <paramref name="stop"/> is signalled
    /// the batch in flight finishes and the epoch stays open: the result is not
    /// <see cref="EpochResult.Complete"/>, and <see cref="ExportState"/> records where it stopped.
    /// Throws <see cref="NonFiniteLossException"/> when a batch loss is NaN or infinite; losses reach
    /// the host once per epoch, so that is noticed at the end of the epoch, not at the batch.
    /// </summary>
    public EpochResult TrainEpoch(int epoch, IProgress<BatchProgress>? progress = null, CancellationToken stop = default)
    {
        if (epochOpen && epoch != this.epoch)
            throw new InvalidOperationException($"epoch {this.epoch + 1} stopped after batch {batch}; finish it before epoch {epoch + 1}");
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        double lr = options.LearningRateAt(epoch);
        if (!epochOpen)
        {
            epochShuffleState = shuffleRng.State;
            if (options.Shuffle) kernels.Transfers.Upload(permutation.View, shuffleRng.Permutation(imageCount));
            (this.epoch, batch, epochOpen) = (epoch, 0, true);
        }
        // Beside the permutation, outside the steps: the Adam scalars of every step left in the epoch.
        PrepareSteps(lr);

        // The device's batch cursor stands at `batch`: it was zeroed or uploaded with the state, and
        // every step moves it on, back to 0 after an epoch's last batch.
        int start = batch, b = start;
        for (; b < BatchesPerEpoch && !stop.IsCancellationRequested; b++)
        {
            TrainBatch(Math.Min(options.BatchSize, imageCount - b * options.BatchSize), lr);

            if (progress != null && clock.Elapsed - lastReport >= ProgressInterval && b + 1 < BatchesPerEpoch)
            {
                // Launches are asynchronous: wait for the device so the numbers are what it has done.
                kernels.Stream.Synchronize();
                lastReport = clock.Elapsed;
                progress.Report(new BatchProgress(epoch + 1, b + 1, BatchesPerEpoch, lastReport.TotalSeconds,
                    ImagesIn(start, b + 1) / lastReport.TotalSeconds));
            }
        }
        var losses = kernels.Transfers.Download(batchLosses.View.SubView(0, b)); // synchronises
        int bad = Array.FindIndex(losses, l => !float.IsFinite(l));
        if (bad >= 0) throw new NonFiniteLossException(epoch + 1, bad + 1, BatchesPerEpoch, losses[bad]);

        batch = b;
        if (b == BatchesPerEpoch) (this.epoch, batch, epochOpen) = (epoch + 1, 0, false);
        double seconds = clock.Elapsed.TotalSeconds;
        return new EpochResult(epoch + 1, b == 0 ? double.NaN : losses.Average(l => (double)l), lr, seconds, ImagesIn(start, b) / seconds)
        {
            Batches = BatchesPerEpoch,
            BatchesDone = b,
        };
    }

    long ImagesIn(int fromBatch, int toBatch) =>
        Math.Min(imageCount, (long)toBatch * options.BatchSize) - Math.Min(imageCount, (long)fromBatch * options.BatchSize);

    /// <summary>
    /// Copies the whole training state to the host (synchronises). Call it between
    /// <see cref="TrainEpoch"/> calls: it costs three parameter-sized downloads, which is why nothing
    /// inside the batch loop does this.
    /// </summary>
    public TrainerState ExportState()
    {
        var parameterValues = kernels.Transfers.Download(parameters);
        var adamState = adam.Export();
        return new(parameterValues, adamState.M, adamState.V, adamState.Step,
            epochOpen ? epochShuffleState : shuffleRng.State, epoch, batch, kernels.Transfers.Download(batchLosses.View.SubView(0, batch)));
    }

    /// <summary>Replaces the whole training state with one from <see cref="ExportState"/>, from this or an earlier process.</summary>
    public void ImportState(TrainerState state)
    {
        var adamState = new AdamState(state.AdamM, state.AdamV, state.Step);
        if (state.Parameters.Length != layout.Length)
            throw new ArgumentException($"the state does not fit this model: expected {layout.Length} values per tensor (padded layout)");
        if (adam.Problem(adamState) is { } problem) throw new ArgumentException($"the state does not fit this model: {problem}");
        if (state.Epoch < 0 || state.Batch < 0 || state.Batch >= BatchesPerEpoch || state.BatchLosses.Length != state.Batch)
            throw new ArgumentException($"the state's position (epoch {state.Epoch}, batch {state.Batch} of {BatchesPerEpoch}, " +
                $"{state.BatchLosses.Length} batch losses) does not fit {BatchesPerEpoch} batches per epoch");
        kernels.Transfers.Upload(parameters.View, state.Parameters);
        adam.Import(adamState);
        batchCursor.View.MemSetToZero(kernels.Stream);
        shuffleRng = new SplitMix64(state.ShuffleState);
        (epoch, batch, epochOpen) = (state.Epoch, state.Batch, false);
        if (state.Batch == 0) return;
        // Inside an epoch: draw its permutation again from the state it started from, exactly as the
        // interrupted run did, and put back the losses of the batches already trained.
        epochShuffleState = state.ShuffleState;
        if (options.Shuffle) kernels.Transfers.Upload(permutation.View, shuffleRng.Permutation(imageCount));
        kernels.Transfers.Upload(batchLosses.View.SubView(0, state.Batch), state.BatchLosses);
        kernels.Transfers.Upload(batchCursor.View, [state.Batch]);
        epochOpen = true;
    }

    /// <summary>
    /// Trains the batch the device's cursor points at, of <paramref name="rows"/> images, at
    /// <paramref name="learningRate"/>: the host's half of Adam's step, then <see cref="TrainStep"/>,
    /// replayed from a graph where one was captured for this batch size. A batch size's first step
    /// runs its launches plainly (allocating any scratch they need), and is then captured for the next.
    /// </summary>
    internal void TrainBatch(int rows, double learningRate)
    {
        adam.BeginStep(learningRate);
        if (!ReplaySteps)
        {
            TrainStep(rows);
            StepPath = "plain launches (replay turned off)";
            return;
        }
        if (capturedSteps.TryGetValue(rows, out var captured) && captured.Generation == kernels.ScratchGeneration)
        {
            captured.Work.Run();
            StepPath = captured.Work.Path;
            return;
        }
        int launches = kernels.CountLaunches(() => TrainStep(rows));
        // Captured only: nothing of it runs until the next step of this size replays it. The capture
        // waits for the stream first, so a graph it replaces is no longer running when it is freed.
        var work = new ReplayableWork(kernels.Stream, () => TrainStep(rows), launches);
        captured.Work?.Dispose();
        capturedSteps[rows] = (work, kernels.ScratchGeneration);
        StepPath = work.Path;
    }

    /// <summary>
    /// One batch, from dataset bytes to the Adam update, as tiny-cuda-nn's Trainer::training_step
    /// reads: forward, loss, backward, optimizer step. Launches only, with the same arguments at every
    /// batch: which batch, and Adam's scalars, are read from device memory. The benchmark times these
    /// same four methods.
    /// </summary>
    internal void TrainStep(int rows)
    {
        Forward(rows);
        Loss(rows);
        Backward(rows);
        Update();
    }

    /// <summary>Gathers the batch the cursor points at from the dataset bytes, in the epoch's order, and runs every layer on it.</summary>
    internal void Forward(int rows)
    {
        kernels.GatherBatch(images.View, permutation.View, batchCursor.View, options.BatchSize, rows, Architecture.Pixels, Rows(activations[0], rows, Architecture.Pixels));
        DeviceLayers.Forward(kernels, layout, parameters.View, activations, rows, 0, layout.Slots.Count);
    }

    /// <summary>
    /// The mean squared error of the reconstruction, and its gradient through the Sigmoid into the
    /// last layer's delta; the target of an autoencoder is its own input. The loss is kept in the
    /// epoch's batch losses, and the batch cursor moves on: the gather was its last reader.
    /// </summary>
    internal void Loss(int rows)
    {
        kernels.MseSigmoidBackward(Rows(activations[^1], rows, Architecture.Pixels), Rows(activations[0], rows, Architecture.Pixels),
            Rows(deltas[^1], rows, Architecture.Pixels), stepLoss.View, rows, Architecture.Pixels);
        kernels.EndBatch(stepLoss.View, batchLosses.View, batchCursor.View, BatchesPerEpoch);
    }

    /// <summary>
    /// Every layer's weight and bias gradients, last layer first, passing each layer's delta down to
    /// the one before. A bias gradient (a column sum of the delta) goes in its weight gradient's
    /// launch where that kernel can add it; the others wait for the last delta and go in one launch
    /// at the end, not one launch (or two) per layer.
    /// </summary>
    internal void Backward(int rows)
    {
        var (p, g) = (parameters.View, gradients.View);
        int pending = 0;
        for (int l = layout.Slots.Count - 1; l >= 0; l--)
        {
            var s = layout.Slots[l];
            var (outputs, inputs) = (s.Spec.Outputs, s.Spec.Inputs);
            var delta = Rows(deltas[l], rows, outputs);
            var input = Rows(activations[l], rows, inputs);
            if (!kernels.LinearBackwardWeightAndBias(delta, input, Weight(g, s), Bias(g, s), new(rows, outputs, inputs)))
                biasJobs[pending++] = new ColumnSumJob(delta, outputs, Bias(g, s));
            // Every layer but the first feeds from a ReLU, whose mask is applied in the same kernel.
            if (l > 0)
                kernels.LinearBackwardInput(delta, Weight(p, s), input, Rows(deltas[l - 1], rows, inputs), new(rows, outputs, inputs));
        }
        for (int first = 0; first < pending; first += DeviceKernels.MaxColumnSumJobs)
            kernels.ColumnSums(rows, 1f, biasJobs.AsSpan(first, Math.Min(DeviceKernels.MaxColumnSumJobs, pending - first)));
    }

    /// <summary>The device's half of one Adam step over every parameter with this step's gradients (<see cref="AdamOptimizer.LaunchStep"/>).</summary>
    internal void Update() => adam.LaunchStep(parameters.View, gradients.View);

    /// <summary>A whole Adam step, both halves, launched plainly: for timing and listing the update alone.</summary>
    internal void Update(double learningRate) => adam.Update(parameters.View, gradients.View, learningRate);

    /// <summary>Uploads the Adam scalars of the steps from the next one on at <paramref name="learningRate"/>, unless the device has them.</summary>
    internal void PrepareSteps(double learningRate) => adam.Prepare(learningRate);

    /// <summary>The current parameters in the padded flat layout (synchronises).</summary>
    public float[] DownloadParameters() => kernels.Transfers.Download(parameters);

    /// <summary>The parameters where they live, for evaluating them on the same device between epochs.</summary>
    public ArrayView<float> Parameters => parameters.View;

    /// <summary>The gradients of the last step, in the padded flat layout (synchronises).</summary>
    public float[] DownloadGradients() => kernels.Transfers.Download(gradients);

    public void Dispose()
    {
        foreach (var (work, _) in capturedSteps.Values) work.Dispose();
        foreach (var d in owned) d.Dispose();
    }
}
