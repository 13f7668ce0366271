namespace GpuAutoencoder.Kernels;

/// <summary>
/// The launcher of <see cref="AdamKernels.Step"/>, the one Adam kernel: its per-step scalars live in
/// device memory, so that a step's launches take no argument that changes from one step to the next
/// and can be captured once and replayed (a CUDA graph).
/// <para>
/// The host still computes every step's scalars, in double precision (<see cref="AdamStep"/>); it
/// only computes them ahead: a table of consecutive steps at one learning rate goes up once, and a
/// one-thread kernel moves a device-side cursor to the next entry after each step.
/// Training changes the learning rate once an epoch, so the table is refilled once an epoch, beside
/// the epoch's permutation.
/// </para>
/// </summary>
public sealed class AdamStepTable : IDisposable
{
    readonly Accelerator accelerator;
    readonly HostTransfers transfers;
    readonly double beta1, beta2, epsilon;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, AdamConstants, ArrayView<float>, ArrayView<int>, int> adam;
    readonly Action<AcceleratorStream, Index1D, ArrayView<int>> advance;
    // Entry e holds (lr / (1 − β1ᵗ), √(1 − β2ᵗ)) for t = first + e.
    readonly MemoryBuffer1D<float, Stride1D.Dense> table;
    readonly MemoryBuffer1D<int, Stride1D.Dense> cursor;
    long first = -1;
    double learningRate = double.NaN;
    // Where the device cursor stands, mirrored on the host: the kernels are the only writers.
    int deviceCursor;

    /// <summary>How many consecutive steps one upload covers.</summary>
    public int Capacity { get; }

    public AdamStepTable(Accelerator accelerator, HostTransfers transfers, int capacity, double beta1, double beta2, double epsilon)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), "must be at least 1");
        (this.accelerator, this.transfers) = (accelerator, transfers);
        (this.beta1, this.beta2, this.epsilon, Capacity) = (beta1, beta2, epsilon, capacity);
        adam = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, AdamConstants, ArrayView<float>, ArrayView<int>, int>(AdamKernels.Step);
        advance = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<int>>(AdamKernels.Advance);
        table = accelerator.Allocate1D<float>(2L * capacity);
        cursor = accelerator.Allocate1D<int>(1);
    }

    /// <summary>
    /// Makes the device cursor point at Adam step <paramref name="step"/> (counted from 1) at
    /// <paramref name="learningRate"/>, uploading a new table when the current one does not hold it
    /// there. Returns the bytes copied to the device (0 when nothing was). Call it outside a capture,
    /// on the stream the step runs on (the default stream when null).
    /// </summary>
    public long Prepare(long step, double learningRate, AcceleratorStream? stream = null)
    {
        stream ??= accelerator.DefaultStream;
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), "Adam counts steps from 1");
        if (learningRate.Equals(this.learningRate) && step == first + deviceCursor && deviceCursor < Capacity) return 0;
        var entries = new float[2 * Capacity];
        for (int e = 0; e < Capacity; e++)
        {
            var s = new AdamStep(learningRate, beta1, beta2, step + e);
            entries[2 * e] = s.StepSize;
            entries[2 * e + 1] = s.BiasCorrection2Sqrt;
        }
        transfers.Upload(table.View, entries, stream);
        cursor.View.MemSetToZero(stream);
        (first, this.learningRate, deviceCursor) = (step, learningRate, 0);
        return table.LengthInBytes;
    }

    /// <summary>
    /// Enqueues one Adam step over <paramref name="count"/> parameters with the scalars the cursor
    /// points at, then advances the cursor. Only launches: nothing here reads host state that
    /// changes between steps, which is what makes it capturable. <see cref="Prepare"/> must have
    /// been called for this step, and every launch (or replay of a captured one) is matched by one
    /// <see cref="Advanced"/>. Launches on <paramref name="stream"/>, the default stream when null.
    /// </summary>
    public void Launch(ArrayView<float> param, ArrayView<float> grad, ArrayView<float> m, ArrayView<float> v, int count,
        AcceleratorStream? stream = null)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "sizes cannot be negative");
        // A GPU does not stop at the end of a view: a short one would be read or written out of bounds.
        foreach (var (view, name) in new[] { (param, nameof(param)), (grad, nameof(grad)), (m, nameof(m)), (v, nameof(v)) })
            if (view.Length < count)
                throw new ArgumentException($"{name} has {view.Length} elements, the sizes given need {count}", name);
        stream ??= accelerator.DefaultStream;
        int threads = accelerator.AcceleratorType == AcceleratorType.CPU ? Math.Min(count, accelerator.MaxNumThreads) : count;
        threads = Math.Max(1, threads);
        adam(stream, threads, param, grad, m, v, count, new AdamConstants((float)beta1, (float)beta2, (float)epsilon), table.View, cursor.View, threads);
        advance(stream, 1, cursor.View);
    }

    /// <summary>Records that one launched step has moved the device cursor.</summary>
    public void Advanced()
    {
        RequireCovered();
        deviceCursor++;
    }

    void RequireCovered()
    {
        if (first < 0 || deviceCursor >= Capacity)
            throw new InvalidOperationException("the step table does not cover this step; call Prepare first");
    }

    public void Dispose()
    {
        table.Dispose();
        cursor.Dispose();
    }
}
