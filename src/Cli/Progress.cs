namespace GpuAutoencoder.Cli;

/// <summary>
/// An IProgress that reports on the caller's thread. System.Progress posts to the thread pool in a
/// console program, so its lines can arrive late or out of order.
/// </summary>
public sealed class InlineProgress<T>(Action<T> action) : IProgress<T>
{
    public void Report(T value) => action(value);
}
