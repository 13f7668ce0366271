using System.Runtime.InteropServices;

namespace GpuAutoencoder.Cli;

/// <summary>
/// Turns the first Ctrl-C (SIGINT) or SIGTERM into a stop request that training honours at the next
/// batch boundary, so the run can checkpoint before it exits; before training starts, the run stops
/// at the next step of its setup and cleans up. A second signal is left to the runtime's default
/// action, which ends the process at once for a user who will not wait.
/// </summary>
public sealed class StopSignal : IDisposable
{
    readonly CancellationTokenSource requested = new();
    readonly PosixSignalRegistration[] registrations;

    public StopSignal()
    {
        registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }

    public CancellationToken Token => requested.Token;

    /// <summary>What the process does about a stop request now, as the signal's message says it.</summary>
    public string Then { get; set; } = "stopping before training starts";

    void Handle(PosixSignalContext context)
    {
        if (requested.IsCancellationRequested) return;
        context.Cancel = true;
        Console.Error.WriteLine($"{Environment.NewLine}{context.Signal}: {Then} (send it again to quit at once)");
        requested.Cancel();
    }

    public void Dispose()
    {
        foreach (var r in registrations) r.Dispose();
        requested.Dispose();
    }
}
