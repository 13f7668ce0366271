using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.KernelReport;

/// <summary>
/// Compiles cataloged kernels to PTX with ILGPU's own CUDA backend, as a CUDA accelerator would
/// when loading them, but with no GPU or driver present.
/// </summary>
public sealed class PtxCompiler : IDisposable
{
    // The newest PTX ISA ptxas 11.8 reads; it covers sm_80 and sm_90.
    static readonly CudaInstructionSet Isa = CudaInstructionSet.ISA_78;
    readonly Context context = Context.Create(builder => builder.Default().EnableAlgorithms());

    /// <summary>"sm_90" → compute capability 9.0.</summary>
    public static CudaArchitecture Architecture(string arch)
    {
        var digits = arch.StartsWith("sm_", StringComparison.Ordinal) ? arch[3..] : "";
        if (digits.Length < 2 || !digits.All(char.IsAsciiDigit))
            throw new ArgumentException($"expected an architecture like sm_90, got {arch}", nameof(arch));
        return new CudaArchitecture(int.Parse(digits[..^1]), digits[^1] - '0');
    }

    public string Compile(CatalogedKernel kernel, string arch)
    {
        var architecture = Architecture(arch);
        using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, Isa, null);
        var entry = kernel.Grouping == KernelGrouping.Explicit
            ? EntryPointDescription.FromExplicitlyGroupedKernel(kernel.Method)
            : EntryPointDescription.FromImplicitlyGroupedKernel(kernel.Method);
        var compiled = (PTXCompiledKernel)backend.Compile(entry, kernel.Specialization ?? KernelSpecialization.Empty);
        return compiled.PTXAssembly;
    }

    public void Dispose() => context.Dispose();
}
