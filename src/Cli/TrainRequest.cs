using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;

namespace GpuAutoencoder.Cli;

/// <summary>What one gpuae train command asks for, as typed; <see cref="Given"/> tells a typed option from its default.</summary>
public sealed record TrainRequest(TrainingOptions Options, AcceleratorKind Accelerator, Precision Precision, IReadOnlySet<string> Given)
{
    public string? Data { get; init; }
    public string? Init { get; init; }
    public string? Out { get; init; }
    public string? Save { get; init; }
    public string? Plot { get; init; }
    public string? Resume { get; init; }
    public int CheckpointEvery { get; init; } = 1;
    public bool Force { get; init; }
    public bool Verbose { get; init; }
    public bool ReplaySteps { get; init; } = true;

    /// <summary>The -s and -p a command that writes this run's outputs again must repeat.</summary>
    public string OutputOptions => string.Join("", new[] { ("-s", Save), ("-p", Plot) }.Where(o => o.Item2 != null).Select(o => $" {o.Item1} {o.Item2}"));

    /// <summary>Refuses what no run can do, before any folder is made or locked.</summary>
    public void Validate()
    {
        OptionNames.Check(Options);
        if (CheckpointEvery < 1) throw new UsageException($"--checkpoint-every: must be at least 1, got {CheckpointEvery}");
        if (Resume == null) return;
        foreach (var option in new[] { "--init", "--out", "--force" })
            if (Given.Contains(option))
                throw new UsageException($"{option}: cannot be combined with --resume, which continues the run in its own folder from its checkpoint");
    }
}
