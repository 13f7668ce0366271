using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.KernelReport;

/// <summary>Takes cataloged kernels through ILGPU, ptxas and cuobjdump, and reads their figures.</summary>
public sealed class KernelInspector(CudaTools tools) : IDisposable
{
    readonly PtxCompiler compiler = new();
    readonly string scratch = Directory.CreateTempSubdirectory("gpuae-kernels-").FullName;

    public KernelBuild Build(CatalogedKernel kernel, string arch)
    {
        string ptx = compiler.Compile(kernel, arch);
        string ptxFile = Path.Combine(scratch, $"{kernel.Name}.{arch}.ptx"), cubin = Path.ChangeExtension(ptxFile, "cubin");
        File.WriteAllText(ptxFile, ptx);
        string report = tools.Assemble(ptxFile, arch, cubin);
        var sass = SassListing.Parse(tools.DisassembleSass(cubin));
        var resources = PtxasResources.Parse(report);
        int blockThreads = kernel.GroupSize ?? Occupancy.AutoBlockThreads(resources.Registers, resources.SharedBytes);
        var loop = kernel.IsMatrixProduct ? sass.InnerLoop() : null;
        var figures = new KernelFigures(kernel.Name, kernel.Grouping.ToString().ToLowerInvariant(),
            resources.Registers, resources.SharedBytes, resources.StackBytes,
            resources.SpillStoreBytes, resources.SpillLoadBytes, resources.SpillBytes,
            sass.LocalMemoryOps, sass.Instructions.Count, blockThreads,
            Occupancy.WarpsPerMultiprocessor(resources.Registers, resources.SharedBytes, blockThreads),
            loop == null ? null : InnerLoopFigures.Of(loop));
        return new KernelBuild(kernel, ptx, report, sass, figures);
    }

    public void Dispose()
    {
        compiler.Dispose();
        Directory.Delete(scratch, recursive: true);
    }
}
