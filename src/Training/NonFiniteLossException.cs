namespace GpuAutoencoder.Training;

/// <summary>A batch's loss came back NaN or infinite: training has diverged and its state is unusable.</summary>
public sealed class NonFiniteLossException(int epoch, int batch, int batches, float loss)
    : Exception($"loss is {loss} at epoch {epoch}, batch {batch} of {batches}: training diverged")
{
    /// <summary>Counted from 1, as printed.</summary>
    public int Epoch => epoch;
    /// <summary>Counted from 1, as printed.</summary>
    public int Batch => batch;
}
