using System.Globalization;
using GpuAutoencoder.Training;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace GpuAutoencoder.Cli;

/// <summary>
/// What a training run shows while it works: progress inside an epoch, the line after each epoch
/// (stdout, the format log parsers read) and notes such as the interruption message (stderr).
/// </summary>
public interface ITrainingProgress
{
    /// <summary>Runs the training loop; the live display exists for exactly this long.</summary>
    T Run<T>(Func<T> body);
    void Batch(BatchProgress p, int epochs);
    void Epoch(string line, double loss, double? testMse);
    void Note(string line);
}

public static class TrainingProgress
{
    /// <summary>The live display when stderr is a terminal, else (or with --no-progress) plain lines.</summary>
    public static ITrainingProgress For(bool noProgress) =>
        noProgress || Console.IsErrorRedirected
            ? new PlainProgress(Console.Out, Console.Error)
            : new LiveProgress(StderrConsole(), Console.Out, epochLinesThroughDisplay: !Console.IsOutputRedirected);

    /// <summary>Spectre's default console writes to stdout; progress belongs on stderr, beside the other diagnostics.</summary>
    static IAnsiConsole StderrConsole() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(Console.Error),
        Ansi = AnsiSupport.Detect,
        ColorSystem = ColorSystemSupport.Detect,
        Interactive = InteractionSupport.Yes,
    });

    internal static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    internal static string Duration(double seconds) => !double.IsFinite(seconds) ? "?"
        : seconds < 60 ? Inv($"{seconds:F0} s")
        : seconds < 3600 ? Inv($"{(int)seconds / 60}:{(int)seconds % 60:00} min")
        : Inv($"{(int)seconds / 3600}:{(int)seconds / 60 % 60:00} h");
}

/// <summary>
/// The plain lines gpuae always wrote, for logs and parsers: epoch lines on stdout, and a progress
/// line on stderr at most every 10 seconds.
/// </summary>
public sealed class PlainProgress(TextWriter stdout, TextWriter stderr, Func<DateTime>? clock = null) : ITrainingProgress
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    readonly Func<DateTime> now = clock ?? (() => DateTime.UtcNow);
    DateTime lastLine = DateTime.MinValue;

    public T Run<T>(Func<T> body) => body();

    public void Batch(BatchProgress p, int epochs)
    {
        if (now() - lastLine < Interval) return;
        stderr.WriteLine(TrainingProgress.Inv($"epoch {p.Epoch}/{epochs}  batch {p.BatchesDone}/{p.Batches}  {p.ImagesPerSecond:F0} img/s  ETA {p.EtaSeconds:F0} s"));
        lastLine = now();
    }

    public void Epoch(string line, double loss, double? testMse) => stdout.WriteLine(line);

    public void Note(string line) => stderr.WriteLine(line);
}

/// <summary>
/// A live Spectre.Console bar on stderr: epoch and batch, images/s, the ETA of the epoch and of the
/// run, and the last epoch's loss and test MSE. Epoch lines and notes are written through the same
/// console, above the bar, so they do not tear it; when stdout is redirected the epoch lines go
/// there instead, unchanged.
/// </summary>
public sealed class LiveProgress(IAnsiConsole console, TextWriter stdout, bool epochLinesThroughDisplay) : ITrainingProgress
{
    static readonly TimeSpan RefreshInterval = TimeSpan.FromMilliseconds(100);
    ProgressContext? context;
    ProgressTask? task;
    string state = "", last = "";
    DateTime lastRefresh = DateTime.MinValue;

    public T Run<T>(Func<T> body)
    {
        T result = default!;
        console.Progress()
            .AutoClear(true)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn())
            .Start(ctx =>
            {
                context = ctx;
                task = ctx.AddTask("starting", maxValue: 1);
                try { result = body(); }
                finally { (context, task) = (null, null); }
            });
        return result;
    }

    public void Batch(BatchProgress p, int epochs)
    {
        if (task == null) return;
        double epochSeconds = p.BatchesDone == 0 ? double.NaN : p.Seconds / p.BatchesDone * p.Batches;
        double runEta = p.EtaSeconds + (epochs - p.Epoch) * epochSeconds;
        task.MaxValue = p.Batches;
        task.Value = p.BatchesDone;
        state = TrainingProgress.Inv(
            $"epoch {p.Epoch}/{epochs}  batch {p.BatchesDone}/{p.Batches}  {p.ImagesPerSecond:N0} img/s  ETA {TrainingProgress.Duration(p.EtaSeconds)} (run {TrainingProgress.Duration(runEta)})");
        Show(force: false);
    }

    /// <summary>Spectre redraws on its own timer too; this draws the first batch at once and keeps up with fast epochs.</summary>
    void Show(bool force)
    {
        if (task == null) return;
        task.Description = Markup.Escape(state + last);
        if (force || DateTime.UtcNow - lastRefresh >= RefreshInterval)
        {
            context?.Refresh();
            lastRefresh = DateTime.UtcNow;
        }
    }

    public void Epoch(string line, double loss, double? testMse)
    {
        last = TrainingProgress.Inv($"  last loss {loss:F6}") + (testMse is { } t ? TrainingProgress.Inv($", test {t:F6}") : "");
        if (epochLinesThroughDisplay) console.WriteLine(line);
        else stdout.WriteLine(line);
        Show(force: true);
    }

    public void Note(string line)
    {
        console.WriteLine(line);
        Show(force: true);
    }
}
