using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Training.Data;

/// <summary>A data file is unusable; the message names the file and the problem in one line.</summary>
public sealed class DataFormatException(string message) : UserErrorException(message);
