namespace GpuAutoencoder.Kernels;

/// <summary>Thrown when the requested accelerator does not exist here; the message names those that do.</summary>
public sealed class AcceleratorUnavailableException(string message) : UserErrorException(message);
