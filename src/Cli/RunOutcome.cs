namespace GpuAutoencoder.Cli;

/// <summary>How a <see cref="TrainingRun"/> ended; each one has already told the user what is kept.</summary>
public enum RunOutcome
{
    /// <summary>Trained to its last epoch and wrote the weights, metrics.json and the loss plot.</summary>
    Finished,
    /// <summary>The stop request came before the first batch: the folder is as it was.</summary>
    StoppedBeforeTraining,
    /// <summary>Stopped by Ctrl-C or SIGTERM during an epoch, with a checkpoint of where it stood.</summary>
    Interrupted,
    /// <summary>The loss diverged or a write failed; the last good checkpoint, if any, is kept.</summary>
    Failed,
}
