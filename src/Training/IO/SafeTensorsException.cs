using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Training.IO;

/// <summary>A safetensors file is unusable; the message names the file and the problem in one line.</summary>
public sealed class SafeTensorsException(string message) : UserErrorException(message);
