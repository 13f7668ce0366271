using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Tests;

/// <summary>The activation widths every device buffer is sized from, and loading parameters into an inference model.</summary>
public class ModelLayoutTests
{
    [TestCase(8)]
    [TestCase(5)]
    public void WidthsAreTheLabsChainAndMatchEveryLayer(int z)
    {
        var arch = new Architecture(z);
        Assert.That(arch.Widths, Is.EqualTo(new[] { 784, 392, z, 392, 784 }));
        for (int l = 0; l < arch.Layers.Count; l++)
        {
            Assert.That(arch.Layers[l].Inputs, Is.EqualTo(arch.Widths[l]), $"layer {l} input");
            Assert.That(arch.Layers[l].Outputs, Is.EqualTo(arch.Widths[l + 1]), $"layer {l} output");
        }
    }

    [Test]
    public void LoadingFromTheDeviceGivesWhatConstructingWithThoseParametersGives()
    {
        const ulong seed = 11;
        var kernels = TestAccelerator.Kernels(Schedule.Cpu);
        var layout = new ParameterLayout(new Architecture(6));
        var (a, b) = (layout.Initialize(seed), layout.Initialize(seed + 1));
        var images = TestImages.Synthetic(3, (int)seed).Select(p => p / 255f).ToArray();
        using var fromB = new DeviceModel(kernels, layout, b, batchSize: 2);
        using var loaded = new DeviceModel(kernels, layout, a, batchSize: 2);
        using var onDevice = kernels.Transfers.Allocate(b);
        var beforeLoad = loaded.Reconstruct(images);
        loaded.Load(onDevice.View);

        Assert.That(loaded.Reconstruct(images), Is.EqualTo(fromB.Reconstruct(images)), $"seed {seed}");
        Assert.That(beforeLoad, Is.Not.EqualTo(fromB.Reconstruct(images)), "the two parameter sets must differ for the test to mean anything");
    }

    [Test]
    public void LoadingAMisSizedBufferThrows()
    {
        var kernels = TestAccelerator.Kernels(Schedule.Cpu);
        var layout = new ParameterLayout(new Architecture());
        using var model = new DeviceModel(kernels, layout, layout.Initialize(1));
        using var shorter = kernels.Accelerator.Allocate1D<float>(layout.Length - 1);
        Assert.Throws<ArgumentException>(() => model.Load(shorter.View));
        Assert.Throws<ArgumentException>(() => new DeviceModel(kernels, layout, new float[layout.Length + 1]));
    }
}
