using GpuAutoencoder.Diagnostics;
using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Tests;

/// <summary>
/// selftest's TF32 training-step row, which compares the whole gradient as a vector, on the CPU with
/// the tensor core's mma emulated; and that comparison itself.
/// </summary>
public class Tf32TrainingStepTests
{
    [Test]
    public void TheTrainingStepRowPassesAtTf32WithTheMmaEmulated()
    {
        var row = SelfTest.TrainingStep(TestAccelerator.EmulatedTf32, 64, new Random(TestSeed.Current));
        TestContext.Out.WriteLine($"relative L2 error of the gradients, or the loss's error where worse: {row.MaxError:E2}");
        Assert.That(row.Passed, row.Detail);
    }

    [Test]
    public void TheNormComparisonToleratesOneJumpingElementButNotAMisplacedBlock()
    {
        var rng = new Random(TestSeed.Current);
        double[] reference = Enumerable.Range(0, 65536).Select(_ => rng.NextDouble() - 0.5).ToArray();
        reference[17] = 0.1;
        float[] Copy() => reference.Select(v => (float)v).ToArray();
        const double bound = 8.0 / 1024;

        var oneJump = Copy();
        oneJump[17] = 0; // a ReLU flipped: one element loses all of its value
        Assert.That(Validation.CompareNorm(oneJump, reference, bound).Passed, Is.True);
        Assert.That(Validation.Compare(oneJump, reference, 1e-6, 1e-4).Passed, Is.False, "element by element it fails");

        var swapped = Copy();
        for (int i = 0; i < 64; i++) (swapped[i], swapped[64 + i]) = (swapped[64 + i], swapped[i]); // a fragment in the wrong place
        var result = Validation.CompareNorm(swapped, reference, bound);
        Assert.That(result.Passed, Is.False);
        Assert.That(result.FirstMismatches, Does.Contain("relative L2 error"));

        var nan = Copy();
        nan[65535] = float.NaN;
        Assert.That(Validation.CompareNorm(nan, reference, bound).Passed, Is.False, "NaN never passes");
    }
}
