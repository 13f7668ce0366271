using System.CommandLine;
using System.CommandLine.Parsing;
using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Cli;

/// <summary>Options several commands share, and the one place their errors become exit codes.</summary>
public static class CommonOptions
{
    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Show the accelerator's details and the kernel schedule, and stack traces on errors.",
        Recursive = true,
    };

    public static Option<string> Accelerator() => new Option<string>("--accelerator", "-a")
    {
        Description = "Where the kernels run: auto (CUDA, then OpenCL, then CPU), cuda, opencl or cpu.",
        DefaultValueFactory = _ => "auto",
    }.AcceptOnlyFromAmong("auto", "cuda", "opencl", "cpu");

    public static Option<string?> Data() => new("--data")
    {
        Description = "Folder with the MNIST IDX files (raw or .gz). Default: $GPUAE_DATA, else the per-user cache, filled on first use.",
    };

    public static AcceleratorKind ParseAccelerator(string name) => name switch
    {
        "cuda" => AcceleratorKind.Cuda,
        "opencl" => AcceleratorKind.OpenCL,
        "cpu" => AcceleratorKind.Cpu,
        _ => AcceleratorKind.Auto,
    };

    /// <summary>
    /// Runs a command body: expected failures (bad input, missing data or device) become one line on
    /// stderr and exit 2; anything else exit 1. Stack traces only with --verbose.
    /// </summary>
    public static int Run(bool verbose, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (IsBadInput(e))
        {
            Console.Error.WriteLine($"gpuae: {e.Message}");
            if (verbose) Console.Error.WriteLine(e);
            return ExitCodes.BadInput;
        }
        catch (OperationCanceledException)
        {
            return ExitCodes.Interrupted;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"gpuae: error: {e.Message}");
            if (verbose) Console.Error.WriteLine(e);
            return ExitCodes.Failure;
        }
    }

    /// <summary>
    /// A parse error as one line that names its option: System.CommandLine lists allowed values on
    /// separate lines and does not always say which option was wrong.
    /// </summary>
    public static string OneLine(ParseError error)
    {
        var message = string.Join(" ", error.Message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        var option = error.SymbolResult switch
        {
            OptionResult o => o.Option.Name,
            ArgumentResult { Parent: OptionResult o } => o.Option.Name,
            _ => null,
        };
        return option == null || message.Contains(option, StringComparison.Ordinal) ? message : $"{option}: {message}";
    }

    static bool IsBadInput(Exception e) => e is ArgumentException or UsageException
        or Training.Data.DataFormatException or Training.IO.SafeTensorsException or Training.Model.ModelFormatException
        or AcceleratorUnavailableException or FileNotFoundException or DirectoryNotFoundException
        or Training.CheckpointException or Training.DeviceMemoryException;
}
