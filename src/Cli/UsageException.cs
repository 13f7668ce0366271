using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Cli;

/// <summary>A user error found by the CLI itself; its message is shown as is.</summary>
public sealed class UsageException(string message) : UserErrorException(message);
