using System.CommandLine;

namespace GpuAutoencoder.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("gpuae: train and inspect an MNIST autoencoder (784-392-z-392-784) on the GPU, with ILGPU kernels.")
        {
            TrainCommand.Create(),
            SweepCommand.Create(),
            DataCommand.Create(),
            DiagnosticCommands.SelfTestCommand(),
            DiagnosticCommands.BenchCommand(),
            DiagnosticCommands.DevicesCommand(),
            FigureCommands.Summary(),
            FigureCommands.Reconstruct(),
            FigureCommands.Denoise(),
            FigureCommands.Interpolate(),
            FigureCommands.Evaluate(),
            FigureCommands.Latent(),
            ReportCommand.Create(),
            ExportCommand.Create(),
        };
        root.Options.Add(CommonOptions.Verbose);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // One line, exit 2, as for every other bad input; --help lists what is accepted.
            Console.Error.WriteLine($"gpuae: {CommonOptions.OneLine(parsed.Errors[0])} (see gpuae --help)");
            return ExitCodes.BadInput;
        }
        return parsed.Invoke();
    }
}
