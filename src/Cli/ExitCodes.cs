namespace GpuAutoencoder.Cli;

/// <summary>What gpuae exits with: 2 for bad input, 130 when interrupted.</summary>
public static class ExitCodes
{
    public const int Ok = 0, Failure = 1, BadInput = 2, Interrupted = 130;
}
