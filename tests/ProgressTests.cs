using GpuAutoencoder.Cli;
using GpuAutoencoder.Training;
using Spectre.Console.Testing;

namespace GpuAutoencoder.Tests;

/// <summary>Training progress in its two modes: Spectre's live bar on a terminal, and the plain lines logs depend on.</summary>
public class ProgressTests
{
    const string EpochLine = "epoch   1/2  loss 0.123456  test 0.045600  lr 1.000E-003    1.50 s      2000 img/s";

    static TestConsole Terminal() => new TestConsole().Interactive().EmitAnsiSequences().Width(200);

    [Test]
    public void LiveBarShowsBatchSpeedEtaAndTheLastEpochsLossWithEpochLinesAboveIt()
    {
        var console = Terminal();
        var stdout = new StringWriter();
        var live = new LiveProgress(console, stdout, epochLinesThroughDisplay: true);
        int result = live.Run(() =>
        {
            live.Batch(new BatchProgress(1, 3, 10, 1.2, 2000), epochs: 2);
            live.Epoch(EpochLine, 0.123456, 0.0456);
            live.Note("a note");
            return 7;
        });

        Assert.That(result, Is.EqualTo(7), "Run returns the body's result");
        var output = console.Output;
        // The first batch is drawn at once: epoch, batch, speed and the ETAs of the epoch (1.2 s / 3 × 7) and of the run (+ 10 × 0.4 s).
        int frame = output.IndexOf("epoch 1/2  batch 3/10  2,000 img/s  ETA 3 s (run 7 s)", StringComparison.Ordinal);
        Assert.That(frame, Is.GreaterThanOrEqualTo(0), output);
        // The epoch line goes through the live display, after that frame, and the bar then shows the last loss and test MSE.
        int line = output.IndexOf(EpochLine, StringComparison.Ordinal);
        Assert.That(line, Is.GreaterThan(frame), output);
        Assert.That(output.IndexOf("last loss 0.123456, test 0.045600", line, StringComparison.Ordinal), Is.GreaterThan(line), output);
        Assert.That(output, Does.Contain("a note"));
        Assert.That(output, Does.Contain("\u001b["), "a terminal gets a live (ANSI) display");
        Assert.That(stdout.ToString(), Is.Empty, "on a terminal the epoch lines are not written a second time");
    }

    [Test]
    public void LiveBarLeavesEpochLinesOnRedirectedStdoutUnchanged()
    {
        var console = Terminal();
        var stdout = new StringWriter();
        var live = new LiveProgress(console, stdout, epochLinesThroughDisplay: false);
        live.Run(() =>
        {
            live.Batch(new BatchProgress(1, 1, 4, 0.5, 100), epochs: 1);
            live.Epoch(EpochLine, 0.123456, null);
            return 0;
        });
        Assert.That(stdout.ToString(), Is.EqualTo(EpochLine + Environment.NewLine));
        Assert.That(console.Output, Does.Not.Contain(EpochLine));
        Assert.That(console.Output, Does.Contain("epoch 1/1  batch 1/4"));
    }

    [Test]
    public void PlainModeWritesEpochLinesToStdoutAndAProgressLineEveryTenSeconds()
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var now = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var plain = new PlainProgress(stdout, stderr, () => now);
        plain.Run(() =>
        {
            plain.Batch(new BatchProgress(1, 1, 10, 0.6, 4000), epochs: 2);
            now += TimeSpan.FromSeconds(5);
            plain.Batch(new BatchProgress(1, 5, 10, 2.5, 4000), epochs: 2);
            now += TimeSpan.FromSeconds(6);
            plain.Batch(new BatchProgress(1, 9, 10, 5.4, 4000), epochs: 2);
            plain.Epoch(EpochLine, 0.123456, 0.0456);
            plain.Note("interrupted");
            return 0;
        });
        Assert.That(stdout.ToString(), Is.EqualTo(EpochLine + Environment.NewLine));
        Assert.That(stderr.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[]
        {
            "epoch 1/2  batch 1/10  4000 img/s  ETA 5 s",
            "epoch 1/2  batch 9/10  4000 img/s  ETA 1 s",
            "interrupted",
        }));
        Assert.That(stderr.ToString(), Does.Not.Contain("\u001b"), "plain lines carry no terminal codes");
    }

    [Test]
    public void NoProgressOrARedirectedStderrGivesPlainLines()
    {
        Assert.That(TrainingProgress.For(noProgress: true), Is.TypeOf<PlainProgress>());
        if (!Console.IsErrorRedirected) Assert.Ignore("stderr is a terminal here; the redirected case cannot be checked");
        Assert.That(TrainingProgress.For(noProgress: false), Is.TypeOf<PlainProgress>());
    }
}
