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

    public static ChoiceOption<AcceleratorKind> Accelerator() => Choice("--accelerator", ["-a"],
        "Where the kernels run: auto (CUDA, then OpenCL, then CPU), cuda, opencl or cpu.", AcceleratorKind.Auto);

    public static ChoiceOption<Precision> Precision() => Choice("--precision", [],
        "Arithmetic of the matrix products: fp32 (default, as PyTorch's default) or tf32 (tensor cores, CUDA with compute capability 8.0+; refused elsewhere). Accumulation, the loss and Adam stay fp32.",
        Kernels.Precision.Fp32);

    public static Option<string?> Data() => new("--data")
    {
        Description = "Folder with the MNIST IDX files (raw or .gz). Default: $GPUAE_DATA, else the per-user cache, filled on first use.",
    };

    public static ChoiceOption<T> Choice<T>(string name, string[] aliases, string description, T defaultValue, params T[] order) where T : struct, Enum =>
        new(name, aliases, description, defaultValue, order);

    /// <summary>
    /// Refuses a precision the accelerator of <paramref name="kind"/> cannot run, before any accelerator is started,
    /// so that a command can check it before it creates anything.
    /// </summary>
    public static void RequirePrecision(AcceleratorKind kind, Precision precision)
    {
        if (precision == Kernels.Precision.Fp32) return;
        using var context = Accelerators.CreateContext();
        RequirePrecision(Accelerators.Find(context, kind), precision);
    }

    /// <summary>The library's refusal of a precision, as the flag that asked for it.</summary>
    public static void RequirePrecision(ILGPU.Runtime.Device device, Precision precision)
    {
        if (PrecisionRefusal(device, precision) is { } why) throw new AcceleratorUnavailableException(why);
    }

    public static string? PrecisionRefusal(ILGPU.Runtime.Device device, Precision precision) =>
        Precisions.Refusal(device, precision) is { } why ? $"--precision {why}" : null;

    /// <summary>How a value of an enum option is typed, and shown in help.</summary>
    public static string Spelling<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();

    /// <summary>
    /// Runs a command body: the user's mistakes (a usage error, a file a reader refused, a missing
    /// device) become one line on stderr and exit 2. Anything else is exit 1: a failure of the machine
    /// (a full disk, a device error) says so; an exception that only a mistake in gpuae's own code can
    /// raise (a bad argument to an internal call, an index out of range, a null) is reported as a bug.
    /// Stack traces only with --verbose.
    /// </summary>
    public static int Run(bool verbose, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (IsBadInput(e))
        {
            Console.Error.WriteLine($"gpuae: {e.Message}{OptionNames.Remedy(e)}");
            if (verbose) Console.Error.WriteLine(e);
            return ExitCodes.BadInput;
        }
        catch (OperationCanceledException)
        {
            return ExitCodes.Interrupted;
        }
        catch (Exception e) when (IsBug(e))
        {
            Console.Error.WriteLine($"gpuae: internal error (a bug in gpuae, not in the input): {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}" +
                (verbose ? "" : "; --verbose shows where"));
            if (verbose) Console.Error.WriteLine(e);
            return ExitCodes.Failure;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"gpuae: error: {e.Message.ReplaceLineEndings(" ")}{OptionNames.Remedy(e)}");
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

    /// <summary>The errors of option checks, file readers and device choice, all <see cref="UserErrorException"/>s, and a
    /// path that is not there. ArgumentException is not one of them: option checks throw <see cref="UsageException"/>,
    /// and readers their own types, whatever the bytes.</summary>
    static bool IsBadInput(Exception e) => e is UserErrorException or FileNotFoundException or DirectoryNotFoundException;

    /// <summary>Exceptions that well-formed code never lets out, whatever the input: each one means a mistake in gpuae.</summary>
    static bool IsBug(Exception e) => e is ArgumentException or IndexOutOfRangeException or NullReferenceException
        or InvalidCastException or InvalidOperationException or KeyNotFoundException or ArithmeticException
        or NotSupportedException or NotImplementedException or FormatException or System.Text.Json.JsonException;
}
