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
            m.View.MemSetToZero(kernels.Stream);
            v.View.MemSetToZero(kernels.Stream);
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
    public void Prepare(double learningRate) => steps.Prepare(Step + 1, learningRate, kernels.Stream);

    /// <summary>
    /// Enqueues one Adam step over every parameter: <see cref="BeginStep"/>, then <see cref="LaunchStep"/>.
    /// </summary>
    public void Update(ArrayView<float> parameters, ArrayView<float> gradients, double learningRate)
    {
        BeginStep(learningRate);
        LaunchStep(parameters, gradients);
    }

    /// <summary>
    /// The host's half of a step: counts it, and makes the device's step table hold its scalars at
    /// <paramref name="learningRate"/>. Only a table that is used up (never during training, which
    /// prepares one per epoch) costs an upload here, which is why this half is never captured.
    /// Exactly one <see cref="LaunchStep"/>, or one replay of a captured one, must follow.
    /// </summary>
    public void BeginStep(double learningRate)
    {
        Step++;
        steps.Prepare(Step, learningRate, kernels.Stream);
        // The launch that follows moves the device's cursor past this step.
        steps.Advanced();
    }

    /// <summary>
    /// The device's half: a single Adam launch over the flat buffers with the scalars the step
    /// table's cursor points at, then the cursor's advance. It takes no argument that changes from
    /// one step to the next, so it can be captured once and replayed.
    /// </summary>
    public void LaunchStep(ArrayView<float> parameters, ArrayView<float> gradients)
    {
        // The step table loads its own two kernels (Adam, then a one-thread cursor advance); they are
        // recorded here, beside DeviceKernels' own launches, so a step's launch list is whole.
        bool adam = kernels.Enqueues("adam (step table)", Count, 0, DeviceKernels.AdamFlop * Count, DeviceKernels.AdamBytes * Count, Count);
        if (kernels.Enqueues("adam step cursor", 1, 0, 0, 8, 1) && adam)
            steps.Launch(parameters, gradients, m.View, v.View, Count, kernels.Stream);
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
