using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Training;

/// <summary>A checkpoint file is unusable; the message names the file and the problem in one line.</summary>
public sealed class CheckpointException(string message) : UserErrorException(message);
