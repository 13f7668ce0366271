using ILGPU.Runtime.Cuda;

namespace GpuAutoencoder.Kernels;

/// <summary>
/// The kernels of training and inference, loaded once for one accelerator, with the launch shapes of
/// the <see cref="Schedule"/> chosen for it, all launched on one <see cref="Stream"/> so that a
/// sequence of them can be captured as a CUDA graph. The exception is the Adam step that reads its
/// scalars from device memory: <see cref="AdamStepTable"/> loads that kernel and its cursor's beside
/// the table they share, and training launches them on this stream too. Methods only enqueue work:
/// nothing here copies between host and device or waits for the device, so callers decide where
/// synchronisation happens. The copies callers do make go through <see cref="Transfers"/>, which counts them.
/// </summary>
public sealed class DeviceKernels : IDisposable
{
    readonly Action<AcceleratorStream, Index2D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue> naive;
    readonly Action<AcceleratorStream, Index2D, ArrayView<Float4>, ArrayView<Float4>, ArrayView<float>, ArrayView<float>, int, int, int, Epilogue> blockedForward, blockedBackwardInput;
    readonly Action<AcceleratorStream, Index2D, ArrayView<Float4>, ArrayView<Float4>, ArrayView<float>, int, int, int> blockedBackwardWeight;
    readonly Action<AcceleratorStream, Index1D, ArrayView<byte>, ArrayView<int>, ArrayView<int>, int, int, int, int, ArrayView<float>, int> gatherBatch;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int> endBatch;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, float, float, int> lossStrided;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ColumnSumJobs, int, int> columnSumsStrided;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, int, int, ArrayView<float>, ArrayView<float>, Epilogue, int> sumSlabs;
    readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> rowSquaredErrors;
    // Explicitly grouped kernels (shared memory and barriers): the GPU schedule.
    readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue, int, int> tiled;
    readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue> skinnyNarrow;
    readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, StridedProduct, int, int> skinnyWeight;
    readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, float, float> lossRowPerGroup;
    readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ColumnSumJobs, int, int> columnSumsGrouped;
    // Loaded only at Precision.Tf32, which the constructor allows only where TF32 runs (inline PTX, CUDA 8.0+).
    readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue, int>? tf32;

    // Scratch space grows to the largest request and is then reused, so a training loop allocates
    // nothing after its first step.
    readonly ScratchBuffer<float> rowLoss, columnPartials, splitPartials;
    // The counters of kernels whose last group to finish completes a reduction: zeroed once, and
    // left zeroed by every launch that uses them.
    readonly ScratchBuffer<int> counters;
    // The views of a batch of column sums, reused so that a step allocates nothing on the host either.
    readonly ArrayView<float>[] jobSources = new ArrayView<float>[MaxColumnSumJobs], jobDestinations = new ArrayView<float>[MaxColumnSumJobs];
    // Kernels take an aux view even when their epilogue ignores it; this stands in for "none".
    readonly MemoryBuffer1D<float, Stride1D.Dense> noAux;
    // A batch cursor that stays at 0, for gathers at a row the host gives.
    readonly MemoryBuffer1D<int, Stride1D.Dense> batchZero;
    readonly bool ownsStream;

    public Accelerator Accelerator { get; }
    /// <summary>
    /// The stream every kernel here is launched on. On CUDA it is a stream of its own, since the
    /// legacy default stream (where ILGPU launches and copies unless told otherwise) cannot be
    /// captured into a graph. It is a blocking stream: work on the default stream, such as ILGPU's
    /// copies, still runs in order with it. Elsewhere it is the accelerator's default stream.
    /// </summary>
    public AcceleratorStream Stream { get; }
    /// <summary>
    /// How many times a scratch buffer has been replaced by a larger one. A captured graph holds the
    /// addresses of the buffers at its capture: when this changes, it must be captured again.
    /// </summary>
    public int ScratchGeneration => rowLoss.Generation + columnPartials.Generation + splitPartials.Generation + counters.Generation;
    public Schedule Schedule { get; }
    /// <summary>The arithmetic of every matrix product; <see cref="Precision.Tf32"/> runs them all on the tensor cores.</summary>
    public Precision Precision { get; }
    /// <summary>Every host↔device copy made on this accelerator by code that uses these kernels, counted.</summary>
    public HostTransfers Transfers { get; }
    /// <summary>
    /// What grids and split counts are sized for: the accelerator's own shape unless another is
    /// given. Another shape describes a device's launches through a <see cref="Recorder"/> that does
    /// not execute, or (in tests) reaches a bigger device's split paths; launches whose groups this
    /// accelerator cannot hold are refused.
    /// </summary>
    public DeviceShape Shape { get; init; }
    /// <summary>When set, every launch is recorded; one that does not execute makes the launchers only record.</summary>
    public LaunchRecorder? Recorder { get; set; }

    /// <exception cref="AcceleratorUnavailableException">The accelerator cannot run <paramref name="precision"/>; never a silent fallback.</exception>
    public DeviceKernels(Accelerator accelerator, Schedule? schedule = null, Precision precision = Precision.Fp32)
        : this(accelerator, schedule, precision, emulateTf32: false)
    {
    }

    /// <summary>
    /// The GPU schedule at <see cref="Precision.Tf32"/> on ILGPU's CPU accelerator, the tensor core's mma
    /// emulated (<see cref="Tf32MmaEmulation"/>), so that tests can run the whole TF32 kernel without a
    /// GPU. The accelerator's warps must be 32 lanes wide, as the mma's, and its groups hold
    /// <see cref="MatmulTf32.GroupSize"/> threads.
    /// </summary>
    internal static DeviceKernels EmulatingTf32(Accelerator accelerator)
    {
        if (accelerator.AcceleratorType != AcceleratorType.CPU || accelerator.WarpSize != Tf32Fragment.WarpSize
            || accelerator.MaxNumThreadsPerGroup < MatmulTf32.GroupSize)
            throw new ArgumentException($"the TF32 emulation needs the CPU accelerator with {Tf32Fragment.WarpSize}-lane warps and groups of {MatmulTf32.GroupSize}", nameof(accelerator));
        return new DeviceKernels(accelerator, Schedule.Gpu, Precision.Tf32, emulateTf32: true);
    }

    DeviceKernels(Accelerator accelerator, Schedule? schedule, Precision precision, bool emulateTf32)
    {
        if (!emulateTf32) Precisions.Require(accelerator.Device, precision);
        Accelerator = accelerator;
        Schedule = schedule ?? Schedule.For(accelerator);
        Precision = precision;
        Transfers = new HostTransfers(accelerator);
        Shape = DeviceShape.Of(accelerator);
        ownsStream = accelerator is CudaAccelerator;
        Stream = accelerator is CudaAccelerator cuda ? cuda.CreateStream(StreamFlags.CU_STREAM_DEFAULT) : accelerator.DefaultStream;
        naive = accelerator.LoadAutoGroupedKernel<Index2D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue>(MatmulNaive.Kernel);
        blockedForward = accelerator.LoadAutoGroupedKernel<Index2D, ArrayView<Float4>, ArrayView<Float4>, ArrayView<float>, ArrayView<float>, int, int, int, Epilogue>(MatmulBlocked.Forward);
        blockedBackwardInput = accelerator.LoadAutoGroupedKernel<Index2D, ArrayView<Float4>, ArrayView<Float4>, ArrayView<float>, ArrayView<float>, int, int, int, Epilogue>(MatmulBlocked.BackwardInput);
        blockedBackwardWeight = accelerator.LoadAutoGroupedKernel<Index2D, ArrayView<Float4>, ArrayView<Float4>, ArrayView<float>, int, int, int>(MatmulBlocked.BackwardWeight);
        gatherBatch = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, ArrayView<int>, ArrayView<int>, int, int, int, int, ArrayView<float>, int>(ElementwiseKernels.GatherBatch);
        endBatch = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int>(ElementwiseKernels.EndBatch);
        lossStrided = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, float, float, int>(LossKernels.Strided);
        columnSumsStrided = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ColumnSumJobs, int, int>(ColumnSumKernels.Strided);
        sumSlabs = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, int, int, ArrayView<float>, ArrayView<float>, Epilogue, int>(ElementwiseKernels.SumSlabs);
        rowSquaredErrors = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(ElementwiseKernels.RowSquaredErrors);
        tiled = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue, int, int>(MatmulTiled.Kernel);
        skinnyNarrow = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue>(MatmulSkinny.NarrowOutput);
        skinnyWeight = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, StridedProduct, int, int>(MatmulSkinny.WeightGradient);
        lossRowPerGroup = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, float, float>(LossKernels.RowPerGroup);
        columnSumsGrouped = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ColumnSumJobs, int, int>(ColumnSumKernels.Grouped);
        if (precision == Precision.Tf32)
            tf32 = emulateTf32
                ? accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue, int>(MatmulTf32.Kernel<EmulatedMma>)
                : accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue, int>(MatmulTf32.Kernel<TensorCoreMma>);
        rowLoss = new ScratchBuffer<float>(accelerator, Stream);
        columnPartials = new ScratchBuffer<float>(accelerator, Stream);
        splitPartials = new ScratchBuffer<float>(accelerator, Stream);
        counters = new ScratchBuffer<int>(accelerator, Stream, zeroed: true);
        noAux = accelerator.Allocate1D<float>(1);
        batchZero = accelerator.Allocate1D<int>(1);
        batchZero.MemSetToZero(Stream);
    }

    /// <summary>Y[M,N] = act(X[M,K]·W[N,K]ᵀ + b).</summary>
    public MatmulVersion LinearForward(ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y,
        MatmulSizes sizes, Activation activation) =>
        Matmul(MatmulShape.Forward, new(x, w, y, bias), sizes, Epilogue.Bias(activation));

    /// <summary>dX[M,K] = dY[M,N]·W[N,K], zeroed where <paramref name="reluOutput"/> (the layer input, [M,K]) is not positive; no mask when it is null.</summary>
    public MatmulVersion LinearBackwardInput(ArrayView<float> dy, ArrayView<float> w, ArrayView<float>? reluOutput,
        ArrayView<float> dx, MatmulSizes sizes) =>
        Matmul(MatmulShape.BackwardInput, new(dy, w, dx, reluOutput ?? noAux.View), sizes,
            reluOutput.HasValue ? Epilogue.ReluMask : Epilogue.None);

    /// <summary>dW[N,K] = dY[M,N]ᵀ·X[M,K].</summary>
    public MatmulVersion LinearBackwardWeight(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> dw, MatmulSizes sizes) =>
        Matmul(MatmulShape.BackwardWeight, new(dy, x, dw, noAux.View), sizes, Epilogue.None);

    /// <summary>
    /// dW[N,K] = dY[M,N]ᵀ·X[M,K], and db[N] = Σ_rows dY in the same launch where the product's
    /// kernel does both (the GPU schedule's version 5, at the bottleneck). Returns whether db was
    /// written; when it was not, the caller sums it (<see cref="ColumnSums(int, float, ReadOnlySpan{ColumnSumJob})"/>).
    /// </summary>
    public bool LinearBackwardWeightAndBias(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> dw, ArrayView<float> db, MatmulSizes sizes)
    {
        Require(db.Length, sizes.N, nameof(db));
        return Product(MatmulShape.BackwardWeight, new(dy, x, dw, noAux.View), sizes, Epilogue.None, null, db).BiasWritten;
    }

    /// <summary>Runs one matrix product with the fastest version this schedule and these operands allow, and says which ran.</summary>
    public MatmulVersion Matmul(MatmulShape shape, MatmulOperands operands, MatmulSizes sizes, Epilogue epilogue, MatmulVersion? version = null) =>
        Product(shape, operands, sizes, epilogue, version, null).Version;

    (MatmulVersion Version, bool BiasWritten) Product(MatmulShape shape, MatmulOperands operands, MatmulSizes sizes,
        Epilogue epilogue, MatmulVersion? version, ArrayView<float>? bias)
    {
        var (a, b, c, aux) = operands;
        var (m, n, k) = sizes;
        var chosen = version ?? (Precision == Precision.Tf32 ? MatmulVersion.Tf32 : Schedule.Matmul);
        // The tiled version needs a whole 16×16 group; the blocked one needs Float4-aligned rows.
        if (chosen == MatmulVersion.Tiled && Shape.MaxGroupSize < MatmulTiled.GroupSize)
            chosen = MatmulVersion.Blocked;
        if (chosen == MatmulVersion.Blocked && !BlockedOperandsFit(shape, a, b, n, k))
            chosen = MatmulVersion.Naive;
        var s = StridedProduct.For(shape, m, n, k);
        // A side of at most 8 would leave most of a 64×64 tile idle: a product that shallow is one
        // output per thread's shape, one that narrow version 5's.
        if (version == null && chosen == MatmulVersion.Tiled && s.Rows > 0 && s.Cols > 0)
            chosen = shape == MatmulShape.BackwardWeight
                ? Math.Min(s.Rows, s.Cols) <= MatmulSkinny.MaxCols ? MatmulVersion.Skinny : chosen
                : s.Depth <= MatmulSkinny.MaxCols ? MatmulVersion.Naive
                : s.Cols <= MatmulSkinny.MaxCols && s.AsP == 1 ? MatmulVersion.Skinny : chosen;
        RequireSizes(m, n, k);
        Require(a.Length, s.ALength, "a");
        Require(b.Length, s.BLength, "b");
        Require(c.Length, (long)s.Rows * s.Cols, "c");
        Require(aux.Length, epilogue.Kind switch
        {
            (int)EpilogueKind.BiasActivation => s.Cols,
            (int)EpilogueKind.ReluMask => (long)s.Rows * s.Cols,
            _ => 0,
        }, "aux");
        // After the operand checks, so a short view is refused the same way whichever version was asked for.
        if (chosen == MatmulVersion.Tf32 && tf32 == null)
            throw new InvalidOperationException("the TF32 product was asked of kernels loaded at fp32");
        if (version == MatmulVersion.Skinny)
            throw new ArgumentException("version 5 is chosen by the shape of a product, not asked for", nameof(version));
        switch (chosen)
        {
            case MatmulVersion.Naive:
                if (Enqueues("matmul v1 naive", shape, (long)s.Cols * s.Rows, 0, ProductFlop(s), ProductBytes(s, epilogue, 1), s.Rows, s.Cols, s.Depth))
                    naive(Stream, new Index2D(s.Cols, s.Rows), a, b, c, aux, s, epilogue);
                break;
            case MatmulVersion.Tf32:
                LaunchTf32(shape, s, a, b, c, aux, epilogue);
                break;
            case MatmulVersion.Tiled:
                LaunchTiled(shape, s, a, b, c, aux, epilogue);
                break;
            case MatmulVersion.Skinny when shape == MatmulShape.BackwardWeight:
                LaunchSkinnyWeightGradient(s, a, b, c, bias);
                return (chosen, bias.HasValue);
            case MatmulVersion.Skinny:
                if (Enqueues("matmul v5 narrow output", shape, (long)CeilDiv(s.Rows, MatmulSkinny.RowsPerGroup) * MatmulSkinny.GroupSize, MatmulSkinny.GroupSize,
                        ProductFlop(s), ProductBytes(s, epilogue, 1), s.Rows, s.Cols, s.Depth))
                    skinnyNarrow(Stream, (CeilDiv(s.Rows, MatmulSkinny.RowsPerGroup), MatmulSkinny.GroupSize), a, b, c, aux, s, epilogue);
                break;
            default:
                if (Enqueues("matmul v2 blocked", shape, BlockedThreads(shape, m, n, k), 0, ProductFlop(s), ProductBytes(s, epilogue, 1), s.Rows, s.Cols, s.Depth))
                    LaunchBlocked(shape, operands, sizes, epilogue);
                break;
        }
        return (chosen, false);
    }

    /// <summary>
    /// Version 5's weight gradient (with the bias gradient when <paramref name="bias"/> is given) in
    /// one launch, the batch split into chunks so that every multiprocessor has groups.
    /// </summary>
    void LaunchSkinnyWeightGradient(StridedProduct s, ArrayView<float> a, ArrayView<float> b, ArrayView<float> dw, ArrayView<float>? bias)
    {
        int withBias = bias.HasValue ? 1 : 0;
        int outputs = s.Rows * (s.Cols + withBias), blocks = CeilDiv(outputs, MatmulSkinny.GroupSize);
        // Two groups per multiprocessor at least, and chunks of about 64 so that no thread's sum is a long chain of loads.
        int chunks = Math.Clamp(Math.Max(CeilDiv(2 * Shape.Multiprocessors, blocks), CeilDiv(s.Depth, 64)), 1, Math.Max(1, CeilDiv(s.Depth, 32)));
        int depthPerChunk = Math.Max(1, CeilDiv(s.Depth, chunks));
        chunks = Math.Max(1, CeilDiv(s.Depth, depthPerChunk));
        var partials = splitPartials.Get(chunks * blocks * MatmulSkinny.GroupSize);
        var done = counters.Get(blocks);
        double flop = ProductFlop(s) + (double)withBias * s.Rows * s.Depth;
        double bytes = 4.0 * ((long)s.Rows * s.Depth + (long)s.Depth * s.Cols + outputs);
        if (Enqueues(bias.HasValue ? "matmul v5 weight + bias gradient" : "matmul v5 weight gradient", MatmulShape.BackwardWeight,
                (long)blocks * chunks * MatmulSkinny.GroupSize, MatmulSkinny.GroupSize, flop, bytes, s.Rows, s.Cols, s.Depth))
            skinnyWeight(Stream, (new Index2D(blocks, chunks), new Index2D(MatmulSkinny.GroupSize, 1)), a, b, dw, bias ?? noAux.View, partials, done, s, withBias, depthPerChunk);
    }

    void LaunchTiled(MatmulShape shape, StridedProduct s, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> aux, Epilogue epilogue)
    {
        int alignedStarts = AlignedStarts(a, b);
        LaunchSplitK(TiledTiling, shape, s, c, aux, epilogue,
            (config, output, depthPerSplit) => tiled(Stream, config, a, b, output, aux, s, epilogue, depthPerSplit, alignedStarts));
    }

    void LaunchTf32(MatmulShape shape, StridedProduct s, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> aux, Epilogue epilogue) =>
        LaunchSplitK(Tf32Tiling, shape, s, c, aux, epilogue,
            (config, output, depthPerSplit) => tf32!(Stream, config, a, b, output, aux, s, epilogue, depthPerSplit));

    /// <summary>How a shared-memory product covers C: its tile, the depth its splits come in multiples of, its group.</summary>
    readonly record struct SplitKTiling(string Name, int TileRows, int TileCols, int DepthStep, Index3D Group);

    static readonly SplitKTiling TiledTiling = new("matmul v3 tiled", MatmulTiled.Tile, MatmulTiled.Tile, MatmulTiled.Depth,
        new Index3D(MatmulTiled.ThreadsPerSide, MatmulTiled.ThreadsPerSide, 1));
    static readonly SplitKTiling Tf32Tiling = new("matmul v4 tf32", MatmulTf32.TileRows, MatmulTf32.TileCols, MatmulTf32.SlabDepth,
        new Index3D(MatmulTf32.GroupSize, 1, 1));

    /// <summary>
    /// Launches a shared-memory product over a grid of (column tiles, row tiles, depth splits), for
    /// both precisions. Each split covers a multiple of the tiling's depth step; with more than one,
    /// <paramref name="launch"/> writes one raw slab per split and <see cref="SumSlabs"/> adds them in a
    /// fixed order and applies the epilogue. <paramref name="launch"/> gets the output (C or the slabs)
    /// and the depth of a split.
    /// </summary>
    void LaunchSplitK(SplitKTiling tiling, MatmulShape shape, StridedProduct s, ArrayView<float> c, ArrayView<float> aux, Epilogue epilogue,
        Action<KernelConfig, ArrayView<float>, int> launch)
    {
        int tiles = CeilDiv(s.Rows, tiling.TileRows) * CeilDiv(s.Cols, tiling.TileCols);
        if (tiles == 0) return;
        int splits = SplitCount(tiles, s.Depth);
        // A depth of zero still needs one split, to write the epilogue of an empty sum.
        int depthPerSplit = Math.Max(tiling.DepthStep, CeilDiv(CeilDiv(s.Depth, splits), tiling.DepthStep) * tiling.DepthStep);
        splits = Math.Max(1, CeilDiv(s.Depth, depthPerSplit));
        var grid = new Index3D(CeilDiv(s.Cols, tiling.TileCols), CeilDiv(s.Rows, tiling.TileRows), splits);
        var group = tiling.Group;
        bool run = Enqueues(tiling.Name, shape, (long)grid.Size * group.Size, group.Size, ProductFlop(s), ProductBytes(s, epilogue, splits), s.Rows, s.Cols, s.Depth);
        if (splits == 1)
        {
            if (run) launch((grid, group), c, depthPerSplit);
            return;
        }
        var slabs = splitPartials.Get(splits * s.Rows * s.Cols);
        if (run) launch((grid, group), slabs, depthPerSplit);
        SumSlabs(shape, slabs, splits, s, c, aux, epilogue);
    }

    /// <summary>The second pass of a split product: the slabs added in order, then the epilogue.</summary>
    void SumSlabs(MatmulShape shape, ArrayView<float> slabs, int splits, StridedProduct s, ArrayView<float> c, ArrayView<float> aux, Epilogue epilogue)
    {
        int threads = Threads(s.Rows * s.Cols);
        long outputs = (long)s.Rows * s.Cols;
        if (Enqueues("split-K slab sum", shape, threads, 0, (double)(splits - 1) * outputs, 4.0 * ((splits + 1) * outputs + AuxLength(s, epilogue)), s.Rows, s.Cols, splits))
            sumSlabs(Stream, threads, slabs, splits, s.Rows, s.Cols, c, aux, epilogue, threads);
    }

    /// <summary>
    /// How many slices of the depth to compute in parallel: enough groups for
    /// <see cref="Schedule.GroupsPerMultiprocessor"/> on every multiprocessor, but never slices
    /// shorter than 128, where the extra pass over the slabs would cost more than it gains.
    /// </summary>
    int SplitCount(int tiles, int depth) =>
        Math.Clamp(CeilDiv(Schedule.GroupsPerMultiprocessor * Shape.Multiprocessors, tiles),
            1, Math.Max(1, depth / 128));

    void LaunchBlocked(MatmulShape shape, MatmulOperands operands, MatmulSizes sizes, Epilogue epilogue)
    {
        var (a, b, c, aux) = operands;
        var (m, n, k) = sizes;
        var a4 = a.Cast<Float4>();
        var b4 = b.Cast<Float4>();
        switch (shape)
        {
            case MatmulShape.Forward:
                blockedForward(Stream, new Index2D(CeilDiv(n, 4), CeilDiv(m, 4)), a4, b4, c, aux, m, n, k, epilogue);
                break;
            case MatmulShape.BackwardInput:
                blockedBackwardInput(Stream, new Index2D(k / 4, CeilDiv(m, 4)), a4, b4, c, aux, m, n, k, epilogue);
                break;
            default:
                blockedBackwardWeight(Stream, new Index2D(k / 4, n / 4), a4, b4, c, m, n, k);
                break;
        }
    }

    static long BlockedThreads(MatmulShape shape, int m, int n, int k) => shape switch
    {
        MatmulShape.Forward => (long)CeilDiv(n, 4) * CeilDiv(m, 4),
        MatmulShape.BackwardInput => (long)(k / 4) * CeilDiv(m, 4),
        _ => (long)(k / 4) * (n / 4),
    };

    static double ProductFlop(StridedProduct s) => 2.0 * s.Rows * s.Cols * s.Depth;

    static long AuxLength(StridedProduct s, Epilogue epilogue) => epilogue.Kind switch
    {
        (int)EpilogueKind.BiasActivation => s.Cols,
        (int)EpilogueKind.ReluMask => (long)s.Rows * s.Cols,
        _ => 0,
    };

    /// <summary>Both operands read once, the output (or <paramref name="slabs"/> split slabs of it) written once, and the epilogue's operand.</summary>
    static double ProductBytes(StridedProduct s, Epilogue epilogue, int slabs) =>
        4.0 * ((long)s.Rows * s.Depth + (long)s.Depth * s.Cols + (long)slabs * s.Rows * s.Cols + (slabs == 1 ? AuxLength(s, epilogue) : 0));

    /// <summary>Whether every row read as Float4 has a length that is a multiple of 4 and starts 16-byte aligned.</summary>
    static bool BlockedOperandsFit(MatmulShape shape, ArrayView<float> a, ArrayView<float> b, int n, int k) =>
        Aligned(a) && Aligned(b) && k % 4 == 0 && (shape == MatmulShape.Forward || n % 4 == 0);

    /// <summary>The tiled kernel's flags: bit 0 when <paramref name="a"/> starts Float4-aligned, bit 1 when <paramref name="b"/> does.</summary>
    static int AlignedStarts(ArrayView<float> a, ArrayView<float> b) => (Aligned(a) ? 1 : 0) | (Aligned(b) ? 2 : 0);

    static bool Aligned(ArrayView<float> view) => ((IContiguousArrayView)view).Index % 4 == 0;

    /// <summary>dst[col] = scale · Σ_row src[row, col], in a fixed order, in one launch.</summary>
    public void ColumnSums(ArrayView<float> src, int rows, int cols, ArrayView<float> dst, float scale = 1f) =>
        ColumnSums(rows, scale, new ColumnSumJob(src, cols, dst));

    /// <summary>The most column sums <see cref="ColumnSums(int, float, ReadOnlySpan{ColumnSumJob})"/> takes in one launch.</summary>
    public const int MaxColumnSumJobs = 4;

    /// <summary>
    /// Up to <see cref="MaxColumnSumJobs"/> column sums over the same <paramref name="rows"/>, in one
    /// launch: each job's dst[col] = scale · Σ_row src[row, col], added in a fixed order. On a GPU
    /// the rows are split into chunks so that every multiprocessor has groups, and the last group of
    /// each column block adds the chunks (no second launch, no float atomic).
    /// </summary>
    public void ColumnSums(int rows, float scale, params ReadOnlySpan<ColumnSumJob> jobs)
    {
        if (jobs.Length is < 1 or > MaxColumnSumJobs)
            throw new ArgumentOutOfRangeException(nameof(jobs), jobs.Length, $"one launch takes 1 to {MaxColumnSumJobs} column sums");
        RequireSizes(rows);
        var (src, dst) = (jobSources, jobDestinations);
        Span<int> cols = stackalloc int[MaxColumnSumJobs];
        for (int i = 0; i < MaxColumnSumJobs; i++)
        {
            // An absent job has no columns and reads and writes nothing; any view stands in for it.
            var job = i < jobs.Length ? jobs[i] : new ColumnSumJob(noAux.View, 0, noAux.View);
            RequireSizes(job.Cols);
            Require(job.Source.Length, (long)rows * job.Cols, "src");
            Require(job.Destination.Length, job.Cols, "dst");
            (src[i], dst[i], cols[i]) = (job.Source, job.Destination, job.Cols);
        }
        var spec = new ColumnSumJobs(jobs.Length, cols[0], cols[1], cols[2], cols[3], scale);
        int total = spec.TotalCols;
        double flop = (double)rows * total;
        if (Schedule.GroupedReductions && Shape.MaxGroupSize >= ColumnSumKernels.GroupSize)
        {
            int blocks = 0;
            foreach (int c in cols) blocks += ColumnSumKernels.Blocks(c);
            blocks = Math.Max(1, blocks);
            // At least two groups per multiprocessor, and at least a row per lane.
            int chunks = Math.Clamp(CeilDiv(2 * Shape.Multiprocessors, blocks), 1, Math.Max(1, CeilDiv(rows, ColumnSumKernels.Lanes)));
            int rowsPerChunk = Math.Max(1, CeilDiv(rows, chunks));
            chunks = Math.Max(1, CeilDiv(rows, rowsPerChunk));
            var partials = columnPartials.Get(chunks * blocks * ColumnSumKernels.Columns);
            var done = counters.Get(blocks);
            if (Enqueues("column sums, last group adds", null, (long)blocks * chunks * ColumnSumKernels.GroupSize, ColumnSumKernels.GroupSize, flop,
                    4.0 * ((double)rows * total + total), rows, total, jobs.Length))
                columnSumsGrouped(Stream, (new Index2D(blocks, chunks), new Index2D(ColumnSumKernels.GroupSize, 1)), src[0], src[1], src[2], src[3], dst[0], dst[1], dst[2], dst[3],
                    partials, done, spec, rows, rowsPerChunk);
            return;
        }
        int threads = Threads(total);
        if (Enqueues("column sums", null, threads, 0, flop, 4.0 * ((double)rows * total + total), rows, total, jobs.Length))
            columnSumsStrided(Stream, threads, src[0], src[1], src[2], src[3], dst[0], dst[1], dst[2], dst[3], spec, rows, threads);
    }

    /// <summary>
    /// The MSE between the Sigmoid output y and the target, both [rows, cols]: its gradient with
    /// respect to the Sigmoid's input goes to dz, and the mean loss to loss[0], reduced on the device.
    /// </summary>
    public void MseSigmoidBackward(ArrayView<float> y, ArrayView<float> target, ArrayView<float> dz,
        ArrayView<float> loss, int rows, int cols)
    {
        RequireSizes(rows, cols);
        Require(y.Length, (long)rows * cols, nameof(y));
        Require(target.Length, (long)rows * cols, nameof(target));
        Require(dz.Length, (long)rows * cols, nameof(dz));
        Require(loss.Length, 1, nameof(loss));
        if (rows == 0) return;
        float elements = (float)rows * cols;
        var rowSums = rowLoss.Get(rows);
        var done = counters.Get(1);
        double flop = 6.0 * rows * cols + rows, bytes = 4.0 * (3L * rows * cols + 1);
        if (Schedule.GroupedReductions)
        {
            if (Enqueues("mse + sigmoid backward + loss sum, a group a row", null, (long)rows * RowGroupSize, RowGroupSize, flop, bytes, rows, cols))
                lossRowPerGroup(Stream, (rows, RowGroupSize), y, target, dz, rowSums, done, loss, cols, 2f / elements, 1f / elements);
        }
        else
        {
            int threads = Threads(rows);
            if (Enqueues("mse + sigmoid backward + loss sum", null, threads, 0, flop, bytes, rows, cols))
                lossStrided(Stream, threads, y, target, dz, rowSums, done, loss, rows, cols, 2f / elements, 1f / elements, threads);
        }
    }

    /// <summary>rowSums[r] = Σ_c (a[r, c] − b[r, c])² for two [rows, cols] matrices; nothing else is written.</summary>
    public void RowSquaredErrors(ArrayView<float> a, ArrayView<float> b, ArrayView<float> rowSums, int rows, int cols)
    {
        RequireSizes(rows, cols);
        Require(a.Length, (long)rows * cols, nameof(a));
        Require(b.Length, (long)rows * cols, nameof(b));
        Require(rowSums.Length, rows, nameof(rowSums));
        int threads = Threads(rows);
        if (Enqueues("row squared errors", null, threads, 0, 3.0 * rows * cols, 4.0 * (2L * rows * cols + rows), rows, cols))
            rowSquaredErrors(Stream, threads, a, b, rowSums, rows, cols, threads);
    }

    /// <summary>x[r, :] = images[permutation[first + r], :] / 255 for r &lt; rows.</summary>
    public void GatherBatch(ArrayView<byte> images, ArrayView<int> permutation, int first, int rows, int pixels, ArrayView<float> x)
    {
        RequireSizes(first + 1);
        Require(permutation.Length, (long)first + rows, nameof(permutation));
        Gather(images, permutation, batchZero.View, (first, 0), rows, pixels, x);
    }

    /// <summary>
    /// x[r, :] = images[permutation[batch[0]·batchSize + r], :] / 255 for r &lt; rows: the batch the
    /// device-side cursor <paramref name="batch"/> points at, which <see cref="EndBatch"/> moves on. The
    /// cursor's range is the caller's to keep: the permutation must hold its batch.
    /// </summary>
    public void GatherBatch(ArrayView<byte> images, ArrayView<int> permutation, ArrayView<int> batch, int batchSize, int rows, int pixels, ArrayView<float> x)
    {
        RequireSizes(batchSize);
        Require(batch.Length, 1, nameof(batch));
        Require(permutation.Length, rows, nameof(permutation));
        Gather(images, permutation, batch, (0, batchSize), rows, pixels, x);
    }

    void Gather(ArrayView<byte> images, ArrayView<int> permutation, ArrayView<int> batch, (int First, int BatchSize) start, int rows, int pixels, ArrayView<float> x)
    {
        RequireSizes(rows, pixels);
        // A permutation of n indices reads n images; the indices themselves are the caller's to keep below n.
        Require(images.Length, permutation.Length * pixels, nameof(images));
        Require(x.Length, (long)rows * pixels, nameof(x));
        int threads = Threads(rows * pixels);
        if (Enqueues("batch gather", null, threads, 0, (double)rows * pixels, 5.0 * rows * pixels + 4.0 * rows, rows, pixels))
            gatherBatch(Stream, threads, images, permutation, batch, start.First, start.BatchSize, rows, pixels, x, threads);
    }

    /// <summary>
    /// losses[batch[0]] = loss[0], then the cursor moves to the next of <paramref name="batches"/>
    /// batches (back to 0 after the last); one thread.
    /// </summary>
    public void EndBatch(ArrayView<float> loss, ArrayView<float> losses, ArrayView<int> batch, int batches)
    {
        RequireSizes(batches);
        Require(loss.Length, 1, nameof(loss));
        Require(batch.Length, 1, nameof(batch));
        Require(losses.Length, batches, nameof(losses));
        if (Enqueues("end of batch: its loss kept, cursor moved", null, 1, 0, 0, 16, batches))
            endBatch(Stream, 1, loss, losses, batch, batches);
    }

    /// <summary>
    /// Runs <paramref name="enqueue"/> and returns how many launches it made, recorded as every launch is;
    /// a recorder already attached receives them too.
    /// </summary>
    public int CountLaunches(Action enqueue)
    {
        var attached = Recorder;
        var counting = new LaunchRecorder { Execute = attached?.Execute ?? true };
        Recorder = counting;
        try
        {
            enqueue();
        }
        finally
        {
            Recorder = attached;
        }
        foreach (var launch in counting.Launches) attached?.Add(launch);
        return counting.Launches.Count;
    }

    /// <summary>Adam's arithmetic per parameter, and its bytes: four tensors read, three written.</summary>
    public const double AdamFlop = 12, AdamBytes = 28;

    /// <summary>
    /// Records a launch made outside these kernels (Adam's step table loads its own) and says
    /// whether it should run: false while a recorder that does not execute is attached.
    /// </summary>
    /// <param name="dims">The problem's sizes, one to three, as <see cref="KernelLaunch.Shape"/> shows them.</param>
    public bool Enqueues(string kernel, long threads, int groupSize, double flop, double bytes, params ReadOnlySpan<int> dims) =>
        Enqueues(kernel, null, threads, groupSize, flop, bytes, dims);

    bool Enqueues(string kernel, MatmulShape? product, long threads, int groupSize, double flop, double bytes, params ReadOnlySpan<int> dims)
    {
        if (Recorder is { } recorder)
        {
            recorder.Add(new KernelLaunch(product is { } p ? $"{kernel} ({p})" : kernel, string.Join("×", dims.ToArray()), threads, groupSize, flop, bytes));
            if (!recorder.Execute) return false;
        }
        if (Shape.MaxGroupSize > Accelerator.MaxNumThreadsPerGroup)
            throw new InvalidOperationException($"launches sized for {Shape.Name} ({Shape.MaxGroupSize}-thread groups) cannot run on {Accelerator.Name}; record them without executing");
        return true;
    }

    /// <summary>
    /// A kernel reads and writes by the sizes it is given, and a GPU does not stop at the end of a
    /// view: a view shorter than its size would be read or written out of bounds. Every launcher
    /// checks before it enqueues anything.
    /// </summary>
    static void Require(long length, long needed, string operand)
    {
        if (length < needed)
            throw new ArgumentException($"{operand} has {length} elements, the sizes given need {needed}", operand);
    }

    static void RequireSizes(params ReadOnlySpan<int> sizes)
    {
        foreach (int size in sizes)
            if (size < 0) throw new ArgumentOutOfRangeException(nameof(sizes), size, "sizes cannot be negative");
    }

    /// <summary>The launch extent of a grid-stride kernel over <paramref name="items"/> items.</summary>
    int Threads(int items) =>
        Math.Max(1, Schedule.OneThreadPerItem ? items : Math.Min(items, Shape.MaxThreads));

    /// <summary>The largest power of two the accelerator allows in a group, up to the kernel's shared buffer.</summary>
    int RowGroupSize => 1 << (int)Math.Log2(Math.Min(LossKernels.MaxGroup, Shape.MaxGroupSize));

    static int CeilDiv(int a, int b) => (a + b - 1) / b;

    public void Dispose()
    {
        rowLoss.Dispose();
        columnPartials.Dispose();
        splitPartials.Dispose();
        counters.Dispose();
        noAux.Dispose();
        batchZero.Dispose();
        if (ownsStream) Stream.Dispose();
    }

    /// <summary>A device buffer that grows to the largest size asked of it, zeroed when it is allocated if <paramref name="zeroed"/>.</summary>
    sealed class ScratchBuffer<T>(Accelerator accelerator, AcceleratorStream stream, bool zeroed = false) : IDisposable where T : unmanaged
    {
        MemoryBuffer1D<T, Stride1D.Dense>? buffer;

        /// <summary>How many buffers have been allocated so far.</summary>
        public int Generation { get; private set; }

        public ArrayView<T> Get(int length)
        {
            if (buffer == null || buffer.Length < length)
            {
                buffer?.Dispose();
                buffer = accelerator.Allocate1D<T>(Math.Max(1, length));
                Generation++;
                if (zeroed) buffer.MemSetToZero(stream);
            }
            return buffer.View.SubView(0, length);
        }

        public void Dispose() => buffer?.Dispose();
    }
}
