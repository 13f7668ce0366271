using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Training;

/// <summary>A metrics.json file is unusable; the message names the file and the problem in one line.</summary>
public sealed class MetricsFormatException(string message) : UserErrorException(message);
