using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Tests;

/// <summary>A view shorter than the sizes a launcher is given throws before anything is enqueued.</summary>
public class LauncherBoundsTests
{
    static DeviceKernels Kernels => TestAccelerator.Kernels(Schedule.Cpu);
    static MemoryBuffer1D<float, Stride1D.Dense> Zeros(int n)
    {
        var b = Kernels.Accelerator.Allocate1D<float>(n);
        b.MemSetToZero();
        return b;
    }

    /// <summary>Runs a launch that must throw, then checks its output still holds the poison: nothing ran.</summary>
    static void Refused(MemoryBuffer1D<float, Stride1D.Dense> output, TestDelegate launch, string operand)
    {
        var e = Assert.Throws<ArgumentException>(launch)!;
        Assert.That(e.ParamName, Is.EqualTo(operand));
        Kernels.Accelerator.Synchronize();
        Assert.That(Kernels.Transfers.Download(output).All(float.IsNaN), "the launch wrote its output although it threw");
    }

    // m, n, k not multiples of 4 or of any tile; each operand in turn is one element short.
    [TestCase(MatmulShape.Forward, "a")]
    [TestCase(MatmulShape.Forward, "b")]
    [TestCase(MatmulShape.Forward, "c")]
    [TestCase(MatmulShape.Forward, "aux")]
    [TestCase(MatmulShape.BackwardInput, "a")]
    [TestCase(MatmulShape.BackwardInput, "b")]
    [TestCase(MatmulShape.BackwardInput, "c")]
    [TestCase(MatmulShape.BackwardInput, "aux")]
    [TestCase(MatmulShape.BackwardWeight, "a")]
    [TestCase(MatmulShape.BackwardWeight, "b")]
    [TestCase(MatmulShape.BackwardWeight, "c")]
    public void MatmulRefusesAShortOperand(MatmulShape shape, string shortOne)
    {
        const int m = 7, n = 5, k = 9;
        var (aLen, bLen, cLen, auxLen, epilogue) = shape switch
        {
            MatmulShape.Forward => (m * k, n * k, m * n, n, Epilogue.Bias(Activation.Relu)),
            MatmulShape.BackwardInput => (m * n, n * k, m * k, m * k, Epilogue.ReluMask),
            _ => (m * n, m * k, n * k, 1, Epilogue.None),
        };
        int Len(string name, int full) => name == shortOne ? full - 1 : full;
        using var a = Zeros(Len("a", aLen));
        using var b = Zeros(Len("b", bLen));
        using var aux = Zeros(Len("aux", auxLen));
        using var c = TestAccelerator.Poisoned(cLen);
        var cView = c.View.SubView(0, Len("c", cLen));
        foreach (var version in Enum.GetValues<MatmulVersion>().Where(v => v != MatmulVersion.Tiled))
            Refused(c, () => Kernels.Matmul(shape, new(a.View, b.View, cView, aux.View), new(m, n, k), epilogue, version), shortOne);
    }

    [Test]
    public void TheOperandLengthsOfEachShapeAreItsMatrices()
    {
        // Forward X[m,k]·W[n,k]ᵀ, BackwardInput dY[m,n]·W[n,k], BackwardWeight dY[m,n]ᵀ·X[m,k]; empty ones included.
        foreach (var (m, n, k) in new[] { (7, 5, 9), (1, 1, 1), (3, 0, 4), (0, 2, 6), (4, 3, 0), (2048, 784, 392) })
        {
            var forward = StridedProduct.For(MatmulShape.Forward, m, n, k);
            var input = StridedProduct.For(MatmulShape.BackwardInput, m, n, k);
            var weight = StridedProduct.For(MatmulShape.BackwardWeight, m, n, k);
            Assert.That((forward.ALength, forward.BLength), Is.EqualTo(((long)m * k, (long)n * k)), $"Forward {m}x{n}x{k}");
            Assert.That((input.ALength, input.BLength), Is.EqualTo(((long)m * n, (long)n * k)), $"BackwardInput {m}x{n}x{k}");
            Assert.That((weight.ALength, weight.BLength), Is.EqualTo(((long)m * n, (long)m * k)), $"BackwardWeight {m}x{n}x{k}");
        }
    }

    [Test]
    public void ElementwiseLaunchersRefuseShortViews()
    {
        const int rows = 6, cols = 11;
        using var full = Zeros(rows * cols);
        using var shortOne = Zeros(rows * cols - 1);
        using var out1 = TestAccelerator.Poisoned(cols);
        Refused(out1, () => Kernels.ColumnSums(shortOne.View, rows, cols, out1.View), "src");
        Refused(out1, () => Kernels.ColumnSums(full.View, rows, cols, out1.View.SubView(0, cols - 1)), "dst");

        using var dz = TestAccelerator.Poisoned(rows * cols);
        using var loss = TestAccelerator.Poisoned(1);
        Refused(dz, () => Kernels.MseSigmoidBackward(shortOne.View, full.View, dz.View, loss.View, rows, cols), "y");
        Refused(dz, () => Kernels.MseSigmoidBackward(full.View, shortOne.View, dz.View, loss.View, rows, cols), "target");
        Refused(dz, () => Kernels.MseSigmoidBackward(full.View, full.View, dz.View.SubView(0, rows * cols - 1), loss.View, rows, cols), "dz");

        using var sums = TestAccelerator.Poisoned(rows);
        Refused(sums, () => Kernels.RowSquaredErrors(full.View, shortOne.View, sums.View, rows, cols), "b");
        Refused(sums, () => Kernels.RowSquaredErrors(full.View, full.View, sums.View.SubView(0, rows - 1), rows, cols), "rowSums");

        using var param = TestAccelerator.Poisoned(rows * cols);
        using var adam = new AdamStepTable(Kernels.Accelerator, Kernels.Transfers, 1, 0.9, 0.999, 1e-8);
        adam.Prepare(1, 1e-3);
        Refused(param, () => adam.Launch(param.View, full.View, full.View, shortOne.View, rows * cols), "v");
        Refused(param, () => adam.Launch(param.View, shortOne.View, full.View, full.View, rows * cols), "grad");
    }

    [Test]
    public void GatherRefusesAPermutationOrImagesTooShort()
    {
        const int pixels = 13, count = 10, first = 4, rows = 6;
        using var images = Kernels.Transfers.Allocate(new byte[count * pixels]);
        using var shortImages = Kernels.Transfers.Allocate(new byte[count * pixels - 1]);
        using var perm = Kernels.Transfers.Allocate(Enumerable.Range(0, count).ToArray());
        using var x = TestAccelerator.Poisoned(rows * pixels);
        Refused(x, () => Kernels.GatherBatch(images.View, perm.View.SubView(0, first + rows - 1), first, rows, pixels, x.View), "permutation");
        Refused(x, () => Kernels.GatherBatch(shortImages.View, perm.View, first, rows, pixels, x.View), "images");
        Refused(x, () => Kernels.GatherBatch(images.View, perm.View, first, rows, pixels, x.View.SubView(0, rows * pixels - 1)), "x");
    }
}
