namespace GpuAutoencoder.Kernels;

/// <summary>The accelerators gpuae can run on.</summary>
public enum AcceleratorKind
{
    Auto,
    Cuda,
    OpenCL,
    Cpu,
}
