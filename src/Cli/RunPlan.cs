using GpuAutoencoder.Training;

namespace GpuAutoencoder.Cli;

/// <summary>What one <see cref="TrainingRun"/> is to do, settled before any of it starts.</summary>
/// <param name="Options">What it trains: for a resumed run, the checkpoint's options with the new epoch total.</param>
/// <param name="OutDir">Its folder: the checkpoint and metrics.json, and unless told otherwise the weights and the plot.</param>
/// <param name="CheckpointEvery">A checkpoint every this many epochs, and after the last.</param>
/// <param name="ResumeCommand">What continues the run when it stops short, as the messages say it.</param>
public sealed record RunPlan(TrainingOptions Options, string OutDir, int CheckpointEvery, string ResumeCommand)
{
    /// <summary>The checkpoint the run continues; null for a new run.</summary>
    public Checkpoint? Resumed { get; init; }

    /// <summary>The starting parameters of a new run (--init); null for the seeded initialisation.</summary>
    public float[]? Initial { get; init; }

    /// <summary>The file <see cref="Initial"/> came from, for the record.</summary>
    public string? InitPath { get; init; }

    public string SavePath { get; init; } = Path.Combine(OutDir, RunFolder.Model);
    public string PlotPath { get; init; } = Path.Combine(OutDir, RunFolder.Plot);

    /// <summary>Whether each step is captured once and replayed as a CUDA graph where the accelerator allows (<see cref="DeviceTrainer.ReplaySteps"/>).</summary>
    public bool ReplaySteps { get; init; } = true;

    /// <summary>What writes the outputs again when only their write failed; by default <see cref="ResumeCommand"/>.</summary>
    public string? WriteOutputsCommand { get; init; }
}
