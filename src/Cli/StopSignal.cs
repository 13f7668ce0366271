using System.Runtime.InteropServices;

namespace GpuAutoencoder.Cli;

/// <summary>
/// Turns the first Ctrl-C (SIGINT) or SIGTERM into a stop request that training honours at the next
/// batch boundary, so the run can checkpoint before it exits. A second signal is left to the
/// runtime's default action, which ends the process at once for a user who will not wait.
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

    void Handle(PosixSignalContext context)
    {
        if (requested.IsCancellationRequested) return;
        context.Cancel = true;
        Console.Error.WriteLine($"{Environment.NewLine}{context.Signal}: stopping after the current batch to write a checkpoint (send it again to quit at once)");
        requested.Cancel();
    }

    public void Dispose()
    {
        foreach (var r in registrations) r.Dispose();
        requested.Dispose();
    }
}
