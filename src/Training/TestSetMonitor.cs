using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Training;

/// <summary>
/// The test MSE at the end of each epoch, on the device: the test images are uploaded once, and
/// each measurement copies the trainer's parameters device-to-device into a <see cref="DeviceModel"/>
/// and reads back one number.
/// </summary>
public sealed class TestSetMonitor : IDisposable
{
    readonly DeviceModel model;
    readonly DeviceImages set;

    public TestSetMonitor(DeviceKernels kernels, ParameterLayout layout, byte[] images, int count)
    {
        model = new DeviceModel(kernels, layout, new float[layout.Length]);
        set = model.Upload(images, count);
    }

    public double Measure(ArrayView<float> parameters)
    {
        model.Load(parameters);
        return model.MeanSquaredError(set);
    }

    public void Dispose()
    {
        set.Dispose();
        model.Dispose();
    }
}
