namespace GpuAutoencoder.Kernels;

/// <summary>
/// Every kernel gpuae runs, loaded once for one accelerator, with the launch shapes of the
/// <see cref="Schedule"/> chosen for it. Methods only enqueue work: nothing here copies between
/// host and device or waits for the device, so callers decide where synchronisation happens. The
/// copies callers do make go through <see cref="Transfers"/>, which counts them.
/// </summary>
public sealed class DeviceKernels : IDisposable
{
    readonly Action<Index2D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue> naive;
    readonly Action<Index2D, ArrayView<Float4>, ArrayView<Float4>, ArrayView<float>, ArrayView<float>, int, int, int, Epilogue> blockedForward, blockedBackwardInput;
    readonly Action<Index2D, ArrayView<Float4>, ArrayView<Float4>, ArrayView<float>, int, int, int> blockedBackwardWeight;
    readonly Action<Index1D, ArrayView<byte>, ArrayView<int>, int, int, int, ArrayView<float>, int> gatherBatch;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float, int> mseSigmoidBackward;
    readonly Action<Index1D, ArrayView<float>, int, int, int, int, ArrayView<float>, float, int> columnSums;
    readonly Action<Index1D, ArrayView<float>, int, int, int, ArrayView<float>, ArrayView<float>, Epilogue, int> sumSlabs;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> rowSquaredErrors;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, AdamStep, int> adam;
    // Explicitly grouped kernels (shared memory and barriers): the GPU schedule.
    readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue, int> tiled;
    readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float> mseRowPerGroup;
    // Loaded only at Precision.Tf32, which the constructor allows only where TF32 runs (inline PTX, CUDA 8.0+).
    readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue, int>? tf32;

    // Scratch space grows to the largest request and is then reused, so a training loop allocates
    // nothing after its first step.
    readonly ScratchBuffer rowLoss, columnPartials, splitPartials;
    // Kernels take an aux view even when their epilogue ignores it; this stands in for "none".
    readonly MemoryBuffer1D<float, Stride1D.Dense> noAux;

    public Accelerator Accelerator { get; }
    public Schedule Schedule { get; }
    /// <summary>The arithmetic of every matrix product; <see cref="Precision.Tf32"/> runs them all on the tensor cores.</summary>
    public Precision Precision { get; }
    /// <summary>Every host↔device copy made on this accelerator by code that uses these kernels, counted.</summary>
    public HostTransfers Transfers { get; }

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
        naive = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue>(MatmulNaive.Kernel);
        blockedForward = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<Float4>, ArrayView<Float4>, ArrayView<float>, ArrayView<float>, int, int, int, Epilogue>(MatmulBlocked.Forward);
        blockedBackwardInput = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<Float4>, ArrayView<Float4>, ArrayView<float>, ArrayView<float>, int, int, int, Epilogue>(MatmulBlocked.BackwardInput);
        blockedBackwardWeight = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<Float4>, ArrayView<Float4>, ArrayView<float>, int, int, int>(MatmulBlocked.BackwardWeight);
        gatherBatch = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<byte>, ArrayView<int>, int, int, int, ArrayView<float>, int>(ElementwiseKernels.GatherBatch);
        mseSigmoidBackward = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float, int>(ElementwiseKernels.MseSigmoidBackward);
        columnSums = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, int, int, int, ArrayView<float>, float, int>(ElementwiseKernels.ColumnSums);
        sumSlabs = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, int, int, ArrayView<float>, ArrayView<float>, Epilogue, int>(ElementwiseKernels.SumSlabs);
        rowSquaredErrors = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(ElementwiseKernels.RowSquaredErrors);
        adam = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, AdamStep, int>(ElementwiseKernels.Adam);
        tiled = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue, int>(MatmulTiled.Kernel);
        mseRowPerGroup = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(ElementwiseKernels.MseSigmoidBackwardRowPerGroup);
        if (precision == Precision.Tf32)
            tf32 = emulateTf32
                ? accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue, int>(MatmulTf32.Kernel<EmulatedMma>)
                : accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue, int>(MatmulTf32.Kernel<TensorCoreMma>);
        rowLoss = new ScratchBuffer(accelerator);
        columnPartials = new ScratchBuffer(accelerator);
        splitPartials = new ScratchBuffer(accelerator);
        noAux = accelerator.Allocate1D<float>(1);
    }

    /// <summary>Y[M,N] = act(X[M,K]·W[N,K]ᵀ + b).</summary>
    public MatmulVersion LinearForward(ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y,
        int m, int n, int k, Activation activation) =>
        Matmul(MatmulShape.Forward, x, w, y, bias, m, n, k, Epilogue.Bias(activation));

    /// <summary>dX[M,K] = dY[M,N]·W[N,K], zeroed where <paramref name="reluOutput"/> (the layer input, [M,K]) is not positive; no mask when it is null.</summary>
    public MatmulVersion LinearBackwardInput(ArrayView<float> dy, ArrayView<float> w, ArrayView<float>? reluOutput,
        ArrayView<float> dx, int m, int n, int k) =>
        Matmul(MatmulShape.BackwardInput, dy, w, dx, reluOutput ?? noAux.View, m, n, k,
            reluOutput.HasValue ? Epilogue.ReluMask : Epilogue.None);

    /// <summary>dW[N,K] = dY[M,N]ᵀ·X[M,K].</summary>
    public MatmulVersion LinearBackwardWeight(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> dw, int m, int n, int k) =>
        Matmul(MatmulShape.BackwardWeight, dy, x, dw, noAux.View, m, n, k, Epilogue.None);

    /// <summary>Runs one matrix product with the fastest version this schedule and these operands allow, and says which ran.</summary>
    public MatmulVersion Matmul(MatmulShape shape, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c,
        ArrayView<float> aux, int m, int n, int k, Epilogue epilogue, MatmulVersion? version = null)
    {
        var chosen = version ?? (Precision == Precision.Tf32 ? MatmulVersion.Tf32 : Schedule.Matmul);
        // The tiled version needs a whole 16×16 group; the blocked one needs Float4-aligned rows.
        if (chosen == MatmulVersion.Tiled && Accelerator.MaxNumThreadsPerGroup < MatmulTiled.GroupSize)
            chosen = MatmulVersion.Blocked;
        if (chosen == MatmulVersion.Blocked && !BlockedOperandsFit(shape, a, b, n, k))
            chosen = MatmulVersion.Naive;
        var s = StridedProduct.For(shape, m, n, k);
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
        switch (chosen)
        {
            case MatmulVersion.Naive:
                naive(new Index2D(s.Cols, s.Rows), a, b, c, aux, s, epilogue);
                break;
            case MatmulVersion.Tf32:
                LaunchTf32(s, a, b, c, aux, epilogue);
                break;
            case MatmulVersion.Tiled:
                LaunchTiled(s, a, b, c, aux, epilogue);
                break;
            default:
                LaunchBlocked(shape, a, b, c, aux, m, n, k, epilogue);
                break;
        }
        return chosen;
    }

    void LaunchTiled(StridedProduct s, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> aux, Epilogue epilogue) =>
        LaunchSplitK(tiled, MatmulTiled.Tile, MatmulTiled.Tile, MatmulTiled.Depth,
            new Index3D(MatmulTiled.ThreadsPerSide, MatmulTiled.ThreadsPerSide, 1), s, a, b, c, aux, epilogue);

    void LaunchTf32(StridedProduct s, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> aux, Epilogue epilogue) =>
        LaunchSplitK(tf32!, MatmulTf32.TileRows, MatmulTf32.TileCols, MatmulTf32.SlabDepth,
            new Index3D(MatmulTf32.GroupSize, 1, 1), s, a, b, c, aux, epilogue);

    /// <summary>
    /// Launches a shared-memory product over a grid of (column tiles, row tiles, depth splits). Each split
    /// covers a multiple of <paramref name="depthStep"/>; with more than one, the kernel writes one raw
    /// slab per split and <see cref="ElementwiseKernels.SumSlabs"/> adds them in a fixed order and applies
    /// the epilogue.
    /// </summary>
    void LaunchSplitK(Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedProduct, Epilogue, int> kernel,
        int tileRows, int tileCols, int depthStep, Index3D group,
        StridedProduct s, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> aux, Epilogue epilogue)
    {
        int tiles = CeilDiv(s.Rows, tileRows) * CeilDiv(s.Cols, tileCols);
        if (tiles == 0) return;
        int splits = SplitCount(tiles, s.Depth);
        // A depth of zero still needs one split, to write the epilogue of an empty sum.
        int depthPerSplit = Math.Max(depthStep, CeilDiv(CeilDiv(s.Depth, splits), depthStep) * depthStep);
        splits = Math.Max(1, CeilDiv(s.Depth, depthPerSplit));
        var grid = new Index3D(CeilDiv(s.Cols, tileCols), CeilDiv(s.Rows, tileRows), splits);
        if (splits == 1)
        {
            kernel((grid, group), a, b, c, aux, s, epilogue, depthPerSplit);
            return;
        }
        var slabs = splitPartials.Get(splits * s.Rows * s.Cols);
        kernel((grid, group), a, b, slabs, aux, s, epilogue, depthPerSplit);
        int threads = Threads(s.Rows * s.Cols);
        sumSlabs(threads, slabs, splits, s.Rows, s.Cols, c, aux, epilogue, threads);
    }

    /// <summary>
    /// How many slices of the depth to compute in parallel: enough groups for
    /// <see cref="Schedule.GroupsPerMultiprocessor"/> on every multiprocessor, but never slices
    /// shorter than 128, where the extra pass over the slabs would cost more than it gains.
    /// </summary>
    int SplitCount(int tiles, int depth) =>
        Math.Clamp(CeilDiv(Schedule.GroupsPerMultiprocessor * Math.Max(1, Accelerator.NumMultiprocessors), tiles),
            1, Math.Max(1, depth / 128));

    void LaunchBlocked(MatmulShape shape, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c,
        ArrayView<float> aux, int m, int n, int k, Epilogue epilogue)
    {
        var a4 = a.Cast<Float4>();
        var b4 = b.Cast<Float4>();
        switch (shape)
        {
            case MatmulShape.Forward:
                blockedForward(new Index2D(CeilDiv(n, 4), CeilDiv(m, 4)), a4, b4, c, aux, m, n, k, epilogue);
                break;
            case MatmulShape.BackwardInput:
                blockedBackwardInput(new Index2D(k / 4, CeilDiv(m, 4)), a4, b4, c, aux, m, n, k, epilogue);
                break;
            default:
                blockedBackwardWeight(new Index2D(k / 4, n / 4), a4, b4, c, m, n, k);
                break;
        }
    }

    /// <summary>Whether every row read as Float4 has a length that is a multiple of 4 and starts 16-byte aligned.</summary>
    static bool BlockedOperandsFit(MatmulShape shape, ArrayView<float> a, ArrayView<float> b, int n, int k) =>
        Aligned(a) && Aligned(b) && k % 4 == 0 && (shape == MatmulShape.Forward || n % 4 == 0);

    static bool Aligned(ArrayView<float> view) => ((IContiguousArrayView)view).Index % 4 == 0;

    /// <summary>dst[col] = scale · Σ_row src[row, col], in a fixed order (two stages on a GPU).</summary>
    public void ColumnSums(ArrayView<float> src, int rows, int cols, ArrayView<float> dst, float scale = 1f)
    {
        RequireSizes(rows, cols);
        Require(src.Length, (long)rows * cols, nameof(src));
        Require(dst.Length, cols, nameof(dst));
        int rowsPerChunk = Math.Min(Schedule.ColumnSumRowsPerChunk, rows);
        int chunks = CeilDiv(rows, rowsPerChunk);
        if (chunks == 1)
        {
            LaunchColumnSums(src, rows, cols, rows, 1, dst, scale);
            return;
        }
        var partial = columnPartials.Get(chunks * cols);
        LaunchColumnSums(src, rows, cols, rowsPerChunk, chunks, partial, 1f);
        LaunchColumnSums(partial, chunks, cols, chunks, 1, dst, scale);
    }

    void LaunchColumnSums(ArrayView<float> src, int rows, int cols, int rowsPerChunk, int chunks, ArrayView<float> dst, float scale)
    {
        int threads = Threads(chunks * cols);
        columnSums(threads, src, rows, cols, rowsPerChunk, chunks, dst, scale, threads);
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
        float elements = (float)rows * cols;
        var rowSums = rowLoss.Get(rows);
        if (Schedule.RowPerGroup)
        {
            mseRowPerGroup((rows, RowGroupSize), y, target, dz, rowSums, cols, 2f / elements);
        }
        else
        {
            int threads = Threads(rows);
            mseSigmoidBackward(threads, y, target, dz, rowSums, rows, cols, 2f / elements, threads);
        }
        ColumnSums(rowSums, rows, 1, loss, 1f / elements);
    }

    /// <summary>rowSums[r] = Σ_c (a[r, c] − b[r, c])² for two [rows, cols] matrices; nothing else is written.</summary>
    public void RowSquaredErrors(ArrayView<float> a, ArrayView<float> b, ArrayView<float> rowSums, int rows, int cols)
    {
        RequireSizes(rows, cols);
        Require(a.Length, (long)rows * cols, nameof(a));
        Require(b.Length, (long)rows * cols, nameof(b));
        Require(rowSums.Length, rows, nameof(rowSums));
        int threads = Threads(rows);
        rowSquaredErrors(threads, a, b, rowSums, rows, cols, threads);
    }

    /// <summary>One Adam step over <paramref name="count"/> parameters.</summary>
    public void Adam(ArrayView<float> param, ArrayView<float> grad, ArrayView<float> m, ArrayView<float> v, int count, AdamStep step)
    {
        RequireSizes(count);
        foreach (var (view, name) in new[] { (param, nameof(param)), (grad, nameof(grad)), (m, nameof(m)), (v, nameof(v)) })
            Require(view.Length, count, name);
        int threads = Threads(count);
        adam(threads, param, grad, m, v, count, step, threads);
    }

    /// <summary>x[r, :] = images[permutation[first + r], :] / 255 for r &lt; rows.</summary>
    public void GatherBatch(ArrayView<byte> images, ArrayView<int> permutation, int first, int rows, int pixels, ArrayView<float> x)
    {
        RequireSizes(first + 1, rows, pixels);
        Require(permutation.Length, (long)first + rows, nameof(permutation));
        // A permutation of n indices reads n images; the indices themselves are the caller's to keep below n.
        Require(images.Length, permutation.Length * pixels, nameof(images));
        Require(x.Length, (long)rows * pixels, nameof(x));
        int threads = Threads(rows * pixels);
        gatherBatch(threads, images, permutation, first, rows, pixels, x, threads);
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
        Math.Max(1, Schedule.OneThreadPerItem ? items : Math.Min(items, Accelerator.MaxNumThreads));

    /// <summary>The largest power of two the accelerator allows in a group, up to the kernel's shared buffer.</summary>
    int RowGroupSize => 1 << (int)Math.Log2(Math.Min(ElementwiseKernels.MaxRowGroup, Accelerator.MaxNumThreadsPerGroup));

    static int CeilDiv(int a, int b) => (a + b - 1) / b;

    public void Dispose()
    {
        rowLoss.Dispose();
        columnPartials.Dispose();
        splitPartials.Dispose();
        noAux.Dispose();
    }

    /// <summary>A device buffer that grows to the largest size asked of it.</summary>
    sealed class ScratchBuffer(Accelerator accelerator) : IDisposable
    {
        MemoryBuffer1D<float, Stride1D.Dense>? buffer;

        public ArrayView<float> Get(int length)
        {
            if (buffer == null || buffer.Length < length)
            {
                buffer?.Dispose();
                buffer = accelerator.Allocate1D<float>(length);
            }
            return buffer.View.SubView(0, length);
        }

        public void Dispose() => buffer?.Dispose();
    }
}
