using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Training;

/// <summary>
/// Adam as training runs it: the moments m and v on the device, the step count, the hyperparameters,
/// and the device-side step table through which <see cref="AdamKernels.Step"/>, the one Adam kernel,
/// gets each step's scalars. selftest checks this object, not a copy of its kernel, against
/// <see cref="AdamReference"/>, so the update that passes there is the update that trains.
/// </summary>
public sealed class AdamOptimizer : IDisposable
{
    readonly DeviceKernels kernels;
    readonly HostTransfers transfers;
    readonly MemoryBuffer1D<float, Stride1D.Dense> m, v;
    readonly AdamStepTable steps;

    /// <summary>How many parameters one step updates.</summary>
    public int Count { get; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }
    /// <summary>Adam steps taken so far; the next step is Step + 1.</summary>
    public long Step { get; private set; }

    /// <param name="stepsPerUpload">How many consecutive steps at one learning rate one upload of the step table covers.</param>
    /// <exception cref="OutOfMemoryException">Or an <see cref="AcceleratorException"/>: nothing stays allocated.</exception>
    public AdamOptimizer(DeviceKernels kernels, int count, int stepsPerUpload, double beta1, double beta2, double epsilon)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "Adam needs at least one parameter");
        this.kernels = kernels;
        transfers = kernels.Transfers;
        (Count, Beta1, Beta2, Epsilon) = (count, beta1, beta2, epsilon);
        var accelerator = kernels.Accelerator;
        try
        {
            m = accelerator.Allocate1D<float>(count);
            v = accelerator.Allocate1D<float>(count);
            m.MemSetToZero();
            v.MemSetToZero();
            steps = new AdamStepTable(accelerator, transfers, stepsPerUpload, beta1, beta2, epsilon);
        }
        catch
        {
            m?.Dispose();
            v?.Dispose();
            throw;
        }
    }

    /// <summary>Device memory of the moments, the parameter-sized part of what this allocates.</summary>
    public static long DeviceBytes(int count) => 2 * 4L * count;

    /// <summary>
    /// Uploads the scalars of the steps from the next one on at <paramref name="learningRate"/>, unless
    /// the device has them: outside the steps, so that a step itself copies nothing.
    /// </summary>
    public void Prepare(double learningRate) => steps.Prepare(Step + 1, learningRate);

    /// <summary>
    /// Enqueues one Adam step over every parameter, in a single launch over the flat buffers. Only a
    /// step table that is used up (never during training, which prepares one per epoch) costs an upload here.
    /// </summary>
    public void Update(ArrayView<float> parameters, ArrayView<float> gradients, double learningRate)
    {
        Step++;
        steps.Prepare(Step, learningRate);
        // The step table loads its own two kernels (Adam, then a one-thread cursor advance); they are
        // recorded here, beside DeviceKernels' own launches, so a step's launch list is whole.
        bool adam = kernels.Enqueues("adam (step table)", Count, 0, DeviceKernels.AdamFlop * Count, DeviceKernels.AdamBytes * Count, Count);
        if (kernels.Enqueues("adam step cursor", 1, 0, 0, 8, 1) && adam)
            steps.Enqueue(parameters, gradients, m.View, v.View, Count);
    }

    /// <summary>The moments and the step count, for a checkpoint (synchronises).</summary>
    public AdamState Export() => new(transfers.Download(m), transfers.Download(v), Step);

    /// <summary>Replaces the moments and the step count with a checkpoint's; a state that does not fit changes nothing.</summary>
    public void Import(AdamState state)
    {
        if (Problem(state) is { } problem) throw new ArgumentException(problem, nameof(state));
        transfers.Upload(m.View, state.M);
        transfers.Upload(v.View, state.V);
        Step = state.Step;
    }

    /// <summary>Why <see cref="Import"/> would refuse <paramref name="state"/>, or null when it fits.</summary>
    public string? Problem(AdamState state) =>
        state.M.Length != Count || state.V.Length != Count ? $"the Adam state has {state.M.Length} and {state.V.Length} moments, this model {Count} parameters"
        : state.Step < 0 ? $"the Adam step count is negative: {state.Step}"
        : null;

    public void Dispose()
    {
        steps.Dispose();
        m.Dispose();
        v.Dispose();
    }
}

/// <summary>What a checkpoint keeps of Adam: both moments, in the flat parameter layout, and the steps taken.</summary>
public sealed record AdamState(float[] M, float[] V, long Step);
