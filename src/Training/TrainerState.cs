namespace GpuAutoencoder.Training;

/// <summary>
/// Everything a <see cref="DeviceTrainer"/> needs to continue exactly where it stopped. Arrays are
/// in the padded flat layout of <see cref="Model.ParameterLayout"/>.
/// </summary>
/// <param name="Epoch">The epoch (counted from 0) the trainer is in, or starts next when <paramref name="Batch"/> is 0.</param>
/// <param name="Batch">Batches of that epoch already trained; 0 at an epoch boundary.</param>
/// <param name="ShuffleState">The shuffle generator's state at the start of <paramref name="Epoch"/>, before its
/// permutation was drawn: replaying the draw gives back the permutation of a partly trained epoch.</param>
/// <param name="BatchLosses">The losses of the <paramref name="Batch"/> batches already trained in <paramref name="Epoch"/>,
/// so that the epoch's mean loss comes out as if it had never stopped.</param>
public sealed record TrainerState(
    float[] Parameters,
    float[] AdamM,
    float[] AdamV,
    long Step,
    ulong ShuffleState,
    int Epoch,
    int Batch,
    float[] BatchLosses);
