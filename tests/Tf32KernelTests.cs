using System.Text.RegularExpressions;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Diagnostics;

namespace GpuAutoencoder.Tests;

/// <summary>
/// The TF32 kernel without a GPU: its index arithmetic checked exhaustively, its inline PTX checked against
/// the accumulator layout it claims, and the whole kernel (staging, double buffering, edges, split-K,
/// epilogues) run on ILGPU's CPU accelerator with the tensor core's mma emulated, against float64.
/// </summary>
public class Tf32KernelTests
{
    [Test]
    public void TheInverseFragmentLayoutNamesTheLaneAndRegisterThatHoldEachElement()
    {
        for (int lane = 0; lane < Tf32Fragment.WarpSize; lane++)
        {
            for (int reg = 0; reg < 4; reg++)
            {
                int row = Tf32Fragment.ARow(lane, reg), k = Tf32Fragment.ACol(lane, reg);
                Assert.That((Tf32Fragment.ALane(row, k), Tf32Fragment.AReg(row, k)), Is.EqualTo((lane, reg)), $"A[{row},{k}]");
            }
            for (int reg = 0; reg < 2; reg++)
            {
                int k = Tf32Fragment.BRow(lane, reg), col = Tf32Fragment.BCol(lane, reg);
                Assert.That((Tf32Fragment.BLane(k, col), Tf32Fragment.BReg(k, col)), Is.EqualTo((lane, reg)), $"B[{k},{col}]");
            }
        }
    }

    /// <summary>Two mma into one tile: a and b hold two 16×8 and two 8×8 operands, d receives each lane's d0..d3.</summary>
    static void TwoMma(ArrayView<float> a, ArrayView<float> b, ArrayView<float> d)
    {
        int lane = ILGPU.Group.IdxX;
        var mma = default(EmulatedMma);
        var state = mma.Start();
        for (int set = 0; set < 2; set++)
        {
            var aSet = a.SubView(set * Tf32Fragment.M * Tf32Fragment.K, Tf32Fragment.M * Tf32Fragment.K);
            var bSet = b.SubView(set * Tf32Fragment.K * Tf32Fragment.N, Tf32Fragment.K * Tf32Fragment.N);
            mma.Mma(state, 0, A(aSet, lane, 0), A(aSet, lane, 1), A(aSet, lane, 2), A(aSet, lane, 3), B(bSet, lane, 0), B(bSet, lane, 1));
        }
        mma.Store(state, 0, d, 4 * lane, 4 * lane + 2);
    }

    static float A(ArrayView<float> a, int lane, int reg) => a[Tf32Fragment.ARow(lane, reg) * Tf32Fragment.K + Tf32Fragment.ACol(lane, reg)];
    static float B(ArrayView<float> b, int lane, int reg) => b[Tf32Fragment.BRow(lane, reg) * Tf32Fragment.N + Tf32Fragment.BCol(lane, reg)];

    [Test]
    public void TheEmulatedMmaAddsEachProductOfTheLanesFragmentsToItsAccumulators()
    {
        var acc = TestAccelerator.EmulatedTf32.Accelerator;
        var rng = TestSeed.Random();
        const int M = Tf32Fragment.M, N = Tf32Fragment.N, K = Tf32Fragment.K;
        float[] a = Compare.Random(rng, 2 * M * K), b = Compare.Random(rng, 2 * K * N);
        // d0..d3 of each lane where the PTX layout puts them: A0·B0 + A1·B1.
        var expected = new double[32 * 4];
        for (int lane = 0; lane < 32; lane++)
            for (int reg = 0; reg < 4; reg++)
            {
                int row = Tf32Fragment.CRow(lane, reg), col = Tf32Fragment.CCol(lane, reg);
                for (int set = 0; set < 2; set++)
                    for (int k = 0; k < K; k++)
                        expected[4 * lane + reg] += (double)a[set * M * K + row * K + k] * b[set * K * N + k * N + col];
            }
        using var da = acc.Allocate1D(a);
        using var db = acc.Allocate1D(b);
        using var d = TestAccelerator.Poisoned(32 * 4, acc);
        var kernel = acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>>(TwoMma);
        kernel((1, Tf32Fragment.WarpSize), da.View, db.View, d.View);
        acc.Synchronize();
        Compare.Close(d.GetAsArray1D(), expected, 1e-6 * (2 * K + 8), 1e-5, "two emulated m16n8k8 into one tile");
    }

    /// <summary>The nearest value with 10 explicit mantissa bits, ties away from zero, worked out in double arithmetic.</summary>
    static float Tf32Reference(float x)
    {
        if (float.IsNaN(x) || float.IsInfinity(x) || x == 0) return x;
        double magnitude = Math.Abs((double)x);
        // The spacing of TF32 values around x: 2^(e − 10) for x in [2^e, 2^(e+1)), e no lower than fp32's subnormal exponent.
        int e = Math.Max((int)Math.Floor(Math.Log2(magnitude)), -126);
        double ulp = Math.Pow(2, e - 10);
        double rounded = Math.Round(magnitude / ulp, MidpointRounding.AwayFromZero) * ulp;
        return (float)(Math.Sign(x) * rounded);
    }

    [Test]
    public void RoundingToTf32IsToNearestWithTiesAwayFromZero()
    {
        float one = 1f, ulp = MathF.Pow(2, -10);
        Assert.That(MatmulTf32.RoundToTf32(one + ulp / 2), Is.EqualTo(one + ulp), "a tie rounds away from zero");
        Assert.That(MatmulTf32.RoundToTf32(-(one + ulp / 2)), Is.EqualTo(-(one + ulp)), "a negative tie rounds away from zero");
        Assert.That(MatmulTf32.RoundToTf32(one + ulp / 2 - MathF.Pow(2, -23)), Is.EqualTo(one), "below a tie rounds down");
        Assert.That(MatmulTf32.RoundToTf32(float.MaxValue), Is.EqualTo(float.PositiveInfinity), "beyond the largest TF32 value");
        Assert.That(MatmulTf32.RoundToTf32(float.NegativeInfinity), Is.EqualTo(float.NegativeInfinity));
        foreach (uint nan in new[] { 0x7FFF_FFFFu, 0xFFFF_FFFFu, 0x7F80_0001u, 0x7FC0_0000u })
        {
            float r = MatmulTf32.RoundToTf32(BitConverter.UInt32BitsToSingle(nan));
            Assert.That(float.IsNaN(r) && (BitConverter.SingleToUInt32Bits(r) & 0x1FFF) == 0, $"NaN 0x{nan:X8} must stay NaN with its low 13 bits clear");
        }
        var rng = TestSeed.Random();
        for (int i = 0; i < 100_000; i++)
        {
            // Random bit patterns cover every exponent, subnormals included.
            float x = BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32));
            if (float.IsNaN(x)) continue;
            float r = MatmulTf32.RoundToTf32(x);
            Assert.That(r, Is.EqualTo(Tf32Reference(x)), $"0x{BitConverter.SingleToUInt32Bits(x):X8}");
            Assert.That(BitConverter.SingleToUInt32Bits(r) & 0x1FFF, Is.Zero);
        }
    }

    [TestCase(true)]
    [TestCase(false)]
    public void EachThreadsSlabElementsCoverTheSlabOnceAndStoreWithoutBankConflicts(bool depthContiguous)
    {
        var seen = new int[MatmulTf32.TileRows, MatmulTf32.SlabDepth];
        for (int tid = 0; tid < MatmulTf32.GroupSize; tid++)
        {
            var (outer0, k0) = MatmulTf32.SlabStart(tid, depthContiguous);
            for (int q = 0; q < MatmulTf32.PerThread; q++)
            {
                var (dOuter, dK) = MatmulTf32.SlabStep(q, depthContiguous);
                int outer = outer0 + dOuter, k = k0 + dK;
                Assert.That(outer is >= 0 and < MatmulTf32.TileRows && k is >= 0 and < MatmulTf32.SlabDepth, $"thread {tid}, element {q}: ({outer},{k})");
                seen[outer, k]++;
                // The kernel stores at first-element position + SlabOffset(q): that must be where (outer, k) lives.
                Assert.That(outer0 * MatmulTf32.SlabStride + MatmulTf32.SlabColumn(k0) + MatmulTf32.SlabOffset(q, depthContiguous),
                    Is.EqualTo(outer * MatmulTf32.SlabStride + MatmulTf32.SlabColumn(k)), $"thread {tid}, element {q}");
            }
        }
        Assert.That(seen.Cast<int>().All(n => n == 1), "some element of the slab is moved twice or never");

        for (int warp = 0; warp < MatmulTf32.Warps; warp++)
            for (int q = 0; q < MatmulTf32.PerThread; q++)
            {
                var banks = new HashSet<int>();
                var elements = new List<(int Outer, int K)>();
                for (int lane = 0; lane < 32; lane++)
                {
                    var (outer0, k0) = MatmulTf32.SlabStart(32 * warp + lane, depthContiguous);
                    var (dOuter, dK) = MatmulTf32.SlabStep(q, depthContiguous);
                    elements.Add((outer0 + dOuter, k0 + dK));
                    banks.Add(((outer0 + dOuter) * MatmulTf32.SlabStride + MatmulTf32.SlabColumn(k0 + dK)) % 32);
                }
                Assert.That(banks, Has.Count.EqualTo(32), $"warp {warp}, element {q}: shared stores share a bank");
                // Global reads: along the depth, one row's 32 consecutive depths; across it, 8 consecutive rows (one
                // 32-byte sector each) at each of 4 depths.
                if (depthContiguous)
                    Assert.That(elements.Select(e => e.Outer).Distinct().Count() == 1 && elements.Select(e => e.K).Order().SequenceEqual(Enumerable.Range(0, 32)));
                else
                    foreach (var column in elements.GroupBy(e => e.K))
                        Assert.That(column.Select(e => e.Outer).Order().Zip(column.Select(e => e.Outer).Order().Skip(1)).All(p => p.Second == p.First + 1) && column.Count() == 8,
                            $"warp {warp}, element {q}: depth {column.Key} is not read as 8 consecutive rows");
            }
    }

    [Test]
    public void EachLanesFloat4ReadsHoldItsFragmentsOfTwoStepsAndSpreadOverAllBanks()
    {
        for (int lane = 0; lane < 32; lane++)
            for (int step = 0; step < MatmulTf32.SlabDepth / Tf32Fragment.K; step++)
            {
                // The kernel takes the step's values from components h and h + 1 of the Float4 at FragmentColumn, h = 2·(step % 2).
                int first = MatmulTf32.FragmentColumn(lane, step / 2) + 2 * (step % 2);
                Assert.That(MatmulTf32.FragmentColumn(lane, step / 2) % 4, Is.Zero, "Float4-aligned");
                for (int reg = 0; reg < 4; reg++)
                    Assert.That(MatmulTf32.SlabColumn(8 * step + Tf32Fragment.ACol(lane, reg)), Is.EqualTo(first + (reg >> 1)), $"lane {lane}, step {step}, a{reg}");
                for (int reg = 0; reg < 2; reg++)
                    Assert.That(MatmulTf32.SlabColumn(8 * step + Tf32Fragment.BRow(lane, reg)), Is.EqualTo(first + reg), $"lane {lane}, step {step}, b{reg}");
            }
        // A 16-byte read is served a quarter-warp at a time: 8 lanes, 8 distinct groups of four banks.
        for (int pair = 0; pair < 2; pair++)
            for (int quarter = 0; quarter < 4; quarter++)
            {
                var groups = Enumerable.Range(8 * quarter, 8)
                    .Select(lane => ((Tf32Fragment.ARow(lane, 0) * MatmulTf32.SlabStride + MatmulTf32.FragmentColumn(lane, pair)) / 4) % 8);
                Assert.That(groups.Distinct().Count(), Is.EqualTo(8), $"pair {pair}, lanes {8 * quarter}..{8 * quarter + 7}");
            }
    }

    [Test]
    public void EachInlinePtxStatementNamesItsTilesFourAccumulatorsInOrder()
    {
        string Const(string name) => (string)typeof(TensorCoreMma).GetField(name)!.GetRawConstantValue()!;
        string Registers(int tile) => string.Join(",", Enumerable.Range(4 * tile, 4).Select(i => $"tfacc{i}"));
        for (int tile = 0; tile < MatmulTf32.MmaRows * MatmulTf32.MmaCols; tile++)
        {
            var mma = Regex.Match(Const($"Mma{tile}"), @"^mma\.sync\.aligned\.m16n8k8\.row\.col\.f32\.tf32\.tf32\.f32 \{(.*?)\}, \{%0,%1,%2,%3\}, \{%4,%5\}, \{(.*?)\};$");
            Assert.That(mma.Success, Const($"Mma{tile}"));
            Assert.That((mma.Groups[1].Value, mma.Groups[2].Value), Is.EqualTo((Registers(tile), Registers(tile))), $"Mma{tile}: D and C");
            Assert.That(Const($"Store{tile}"), Is.EqualTo($"mov.b64 %0, {{tfacc{4 * tile},tfacc{4 * tile + 1}}};\n\tmov.b64 %1, {{tfacc{4 * tile + 2},tfacc{4 * tile + 3}}};"), $"Store{tile}");
        }
        var declare = Const(nameof(TensorCoreMma.DeclareAccumulators));
        Assert.That(declare, Does.StartWith($".reg .f32 tfacc<{MatmulTf32.Accumulators}>;"));
        var zeroed = Regex.Matches(declare, @"mov\.b32 tfacc(\d+), 0;").Select(m => int.Parse(m.Groups[1].Value)).Order();
        Assert.That(zeroed, Is.EqualTo(Enumerable.Range(0, MatmulTf32.Accumulators)));
    }

    static IEnumerable<TestCaseData> Cases()
    {
        // One partial tile; several tiles with ragged edges; depths long enough for several slabs (double
        // buffering) and for two splits (split-K, then the slabs summed and the epilogue applied).
        int[][] sizes = [[37, 45, 29], [70, 65, 17], [33, 8, 300], [300, 9, 20], [20, 300, 9]];
        foreach (var shape in Enum.GetValues<MatmulShape>())
            foreach (var act in shape == MatmulShape.Forward ? Enum.GetValues<Activation>() : [Activation.Identity])
                foreach (var size in sizes)
                {
                    // Each activation once at the small size; all sizes under ReLU and the other shapes.
                    if (shape == MatmulShape.Forward && act != Activation.Relu && size[0] != 37) continue;
                    yield return new TestCaseData(shape, act, size[0], size[1], size[2])
                        .SetName($"Tf32Emulated_{shape}{(shape == MatmulShape.Forward ? $"_{act}" : "")}_{size[0]}x{size[1]}x{size[2]}");
                }
    }

    [TestCaseSource(nameof(Cases))]
    public void TheWholeKernelMatchesFloat64WithinTheTf32Bound(MatmulShape shape, Activation act, int m, int n, int k)
    {
        var kernels = TestAccelerator.EmulatedTf32;
        var acc = kernels.Accelerator;
        var rng = TestSeed.Random();
        float[] a = Compare.Random(rng, m * (shape == MatmulShape.Forward ? k : n));
        float[] b = Compare.Random(rng, shape == MatmulShape.BackwardWeight ? m * k : n * k);
        float[] aux = shape == MatmulShape.Forward ? Compare.Random(rng, n) : Compare.Random(rng, m * k).Select(v => Math.Max(0f, v)).ToArray();
        var (rows, cols, depth) = shape switch { MatmulShape.Forward => (m, n, k), MatmulShape.BackwardInput => (m, k, n), _ => (n, k, m) };
        var epilogue = shape switch
        {
            MatmulShape.Forward => Epilogue.Bias(act),
            MatmulShape.BackwardInput => Epilogue.ReluMask,
            _ => Epilogue.None,
        };
        double[] expected = shape switch
        {
            MatmulShape.Forward => MatmulReference.Forward(a, b, aux, m, n, k, act),
            MatmulShape.BackwardInput => MatmulReference.BackwardInput(a, b, aux, m, n, k),
            _ => MatmulReference.BackwardWeight(a, b, m, n, k),
        };
        using var da = acc.Allocate1D(a);
        using var db = acc.Allocate1D(b);
        using var dAux = acc.Allocate1D(aux);
        using var c = TestAccelerator.Poisoned(rows * cols, acc);
        var ran = kernels.Matmul(shape, new(da.View, db.View, c.View, dAux.View), new(m, n, k), epilogue);
        Assert.That(ran, Is.EqualTo(MatmulVersion.Tf32));
        Compare.Close(c.GetAsArray1D(), expected, SelfTest.Tf32Tolerance(shape, a, b, m, n, k, depth), 0, $"tf32 {shape} {act}");
    }

    [Test]
    public void TheKernelRoundsItsOperandsToTf32TiesAwayFromZero()
    {
        // 1 + 2⁻¹¹ lies halfway between two TF32 values: rounded away it is 1 + 2⁻¹⁰, and 3·(1 + 2⁻¹⁰) is exact in fp32.
        // A kernel that kept fp32 operands would give 3·(1 + 2⁻¹¹); one that truncated or rounded to even, 3.
        var kernels = TestAccelerator.EmulatedTf32;
        var acc = kernels.Accelerator;
        const int m = 5, n = 3, k = 3;
        float tie = 1f + MathF.Pow(2, -11);
        using var x = acc.Allocate1D(Enumerable.Repeat(tie, m * k).ToArray());
        using var w = acc.Allocate1D(Enumerable.Repeat(1f, n * k).ToArray());
        using var bias = acc.Allocate1D(new float[n]);
        using var y = TestAccelerator.Poisoned(m * n, acc);
        kernels.LinearForward(x.View, w.View, bias.View, y.View, new(m, n, k), Activation.Identity);
        Assert.That(y.GetAsArray1D(), Is.All.EqualTo(3 * (1f + MathF.Pow(2, -10))));
    }
}
