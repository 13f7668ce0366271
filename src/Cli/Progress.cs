namespace GpuAutoencoder.Cli;

/// <summary>
/// An IProgress that reports on the caller's thread. System.Progress posts to the thread pool in a
/// console program, so its lines can arrive late or out of order.
/// </summary>
public sealed class InlineProgress<T>(Action<T> action) : IProgress<T>
{
    public void Report(T value) => action(value);
}

/// <summary>Progress inside an epoch on stderr: one line rewritten in place on a terminal, a line now and then otherwise.</summary>
public sealed class ProgressLine
{
    readonly bool terminal = !Console.IsErrorRedirected;
    DateTime lastLine = DateTime.MinValue;
    int width;

    public void Show(string text)
    {
        if (terminal)
        {
            Console.Error.Write("\r" + text.PadRight(width));
            width = text.Length;
        }
        else if (DateTime.UtcNow - lastLine > TimeSpan.FromSeconds(10))
        {
            Console.Error.WriteLine(text);
            lastLine = DateTime.UtcNow;
        }
    }

    public void Clear()
    {
        if (terminal && width > 0) Console.Error.Write("\r" + new string(' ', width) + "\r");
        width = 0;
    }
}
