using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Training.Model;

/// <summary>A model file is unusable for this architecture; the message names the file and the problem.</summary>
public sealed class ModelFormatException(string message) : UserErrorException(message);
