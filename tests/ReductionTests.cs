using GpuAutoencoder.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAutoencoder.Tests;

/// <summary>
/// The one-launch reductions (batched column sums, the loss with its gradient) against float64,
/// under both schedules' kernels: the CPU schedule's loops, and the GPU schedule's groups finished by
/// the last group, on a CPU device wide enough for them and sized as if it had many multiprocessors
/// so that the rows really are split into chunks. Each is run twice on freshly poisoned outputs: a
/// counter left non-zero by the first launch would leave the second one's outputs unwritten.
/// </summary>
public class ReductionTests
{
    static readonly int[][] JobColumns = [[1], [33], [45, 8], [7, 1, 40, 33]];

    static IEnumerable<TestCaseData> Cases()
    {
        foreach (var kernels in new[] { "cpu", "grouped" })
            foreach (int rows in new[] { 1, 37, 301 })
                foreach (var cols in JobColumns)
                    yield return new TestCaseData(kernels, rows, cols).SetName($"ColumnSums_{kernels}_{rows}rows_{string.Join("-", cols)}");
    }

    static DeviceKernels For(string kernels) => kernels == "cpu" ? TestAccelerator.Kernels(Schedule.Cpu) : SplitGpuSchedule.Kernels;

    [TestCaseSource(nameof(Cases))]
    public void ColumnSumsInOneLaunchMatchFloat64(string which, int rows, int[] cols)
    {
        var kernels = For(which);
        var acc = kernels.Accelerator;
        var rng = TestSeed.Random();
        var sources = cols.Select(c => Compare.Random(rng, rows * c)).ToArray();
        float scale = which == "cpu" ? 1f : 0.37f;
        using var src = new DisposableList<MemoryBuffer1D<float, Stride1D.Dense>>(sources.Select(s => acc.Allocate1D(s)));
        float[][]? first = null;
        for (int run = 0; run < 2; run++)
        {
            using var dst = new DisposableList<MemoryBuffer1D<float, Stride1D.Dense>>(cols.Select(c => TestAccelerator.Poisoned(c, acc)));
            var recorder = new LaunchRecorder();
            kernels.Recorder = recorder;
            try
            {
                kernels.ColumnSums(rows, scale, cols.Select((c, i) => new ColumnSumJob(src[i].View, c, dst[i].View)).ToArray());
            }
            finally
            {
                kernels.Recorder = null;
            }
            Assert.That(recorder.Launches, Has.Count.EqualTo(1), "one launch for every job");
            var got = dst.Select(d => d.GetAsArray1D()).ToArray();
            for (int i = 0; i < cols.Length; i++)
                Compare.Close(got[i], ElementwiseReference.ColumnSums(sources[i], rows, cols[i]).Select(v => scale * v).ToArray(),
                    1e-6 * (rows + 8), 1e-5, $"run {run + 1}, job {i}");
            if (first == null) first = got;
            else Assert.That(got, Is.EqualTo(first), "a second launch adds in the same order");
        }
    }

    [Test]
    public void GroupedColumnSumsSplitTheRowsOverEveryMultiprocessor()
    {
        var recorder = new LaunchRecorder { Execute = false };
        using var kernels = new DeviceKernels(TestAccelerator.Cpu, Schedule.Gpu) { Shape = DeviceShape.H200, Recorder = recorder };
        using var src = TestAccelerator.Poisoned(2048);
        using var dst = TestAccelerator.Poisoned(1);
        kernels.ColumnSums(src.View, 2048, 1, dst.View);
        Assert.That(recorder.Launches.Single().Groups, Is.GreaterThanOrEqualTo(DeviceShape.H200.Multiprocessors));
    }

    [TestCase("cpu", 1, 1)]
    [TestCase("cpu", 37, 45)]
    [TestCase("grouped", 1, 1)]
    [TestCase("grouped", 7, 33)]
    [TestCase("grouped", 13, 784)]
    public void LossAndGradientInOneLaunchMatchFloat64(string which, int rows, int cols)
    {
        var kernels = For(which);
        var acc = kernels.Accelerator;
        var rng = TestSeed.Random();
        float[] y = Compare.Random(rng, rows * cols, 0.001f, 0.999f), t = Compare.Random(rng, rows * cols, 0f, 1f);
        using var dy = acc.Allocate1D(y);
        using var dt = acc.Allocate1D(t);
        var (refLoss, refDz) = ElementwiseReference.MseSigmoidBackward(y, t, rows, cols);
        float? firstLoss = null;
        for (int run = 0; run < 2; run++)
        {
            using var dz = TestAccelerator.Poisoned(rows * cols, acc);
            using var loss = TestAccelerator.Poisoned(1, acc);
            var recorder = new LaunchRecorder();
            kernels.Recorder = recorder;
            try
            {
                kernels.MseSigmoidBackward(dy.View, dt.View, dz.View, loss.View, rows, cols);
            }
            finally
            {
                kernels.Recorder = null;
            }
            Assert.That(recorder.Launches, Has.Count.EqualTo(1));
            var got = loss.GetAsArray1D();
            Compare.Close(got, [refLoss], 0, 1e-5, $"run {run + 1}: loss");
            Compare.Close(dz.GetAsArray1D(), refDz, 1e-12, 1e-5, $"run {run + 1}: dz");
            firstLoss ??= got[0];
            Assert.That(got[0], Is.EqualTo(firstLoss.Value), "the same loss, bit for bit");
        }
    }

    sealed class DisposableList<T>(IEnumerable<T> items) : List<T>(items), IDisposable where T : IDisposable
    {
        public void Dispose() => ForEach(i => i.Dispose());
    }
}
