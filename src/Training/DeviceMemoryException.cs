using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Training;

/// <summary>The accelerator could not hold the training buffers; the message says how many bytes were needed.</summary>
public sealed class DeviceMemoryException(string message, Exception inner) : UserErrorException(message, inner);
