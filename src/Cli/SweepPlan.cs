using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training.Sweep;

namespace GpuAutoencoder.Cli;

/// <summary>What one gpuae sweep command asks for: the grid, the shard of it, and the options every run shares.</summary>
public sealed record SweepPlan(SweepGrid Grid, Shard? Shard, int Epochs, double Gamma, bool Shuffle, int? Limit, int CheckpointEvery)
{
    public AcceleratorKind Accelerator { get; init; }
    public string? Data { get; init; }
    public string Out { get; init; } = "";
}
