using ILGPU.Runtime.Cuda;

namespace GpuAutoencoder.Kernels;

/// <summary>
/// The arithmetic of the matrix products. Fp32 multiplies on the SIMT units; Tf32 rounds each operand
/// to TF32 (10 explicit mantissa bits) and multiplies on the tensor cores. Both accumulate in fp32,
/// and every elementwise kernel, the loss and Adam stay fp32 either way.
/// </summary>
public enum Precision
{
    Fp32,
    Tf32,
}

public static class Precisions
{
    public static string Name(Precision precision) => precision == Precision.Tf32 ? "tf32" : "fp32";

    public static Precision? Parse(string name) => name switch
    {
        "fp32" => Precision.Fp32,
        "tf32" => Precision.Tf32,
        _ => null,
    };

    /// <summary>
    /// Why <paramref name="device"/> cannot run <paramref name="precision"/>, as one line naming the precision and the device, or null when it can.
    /// TF32 needs mma.sync on tf32 operands, which PTX has only from compute capability 8.0; OpenCL and the CPU
    /// accelerator have no way to reach tensor cores at all. Callers refuse; nothing falls back to fp32 silently.
    /// </summary>
    public static string? Refusal(Device device, Precision precision)
    {
        if (precision == Precision.Fp32) return null;
        string what = $"{Accelerators.Name(device.AcceleratorType)} accelerator ({device.Name})";
        if (device is not CudaDevice cuda)
            return $"tf32: the {what} has no TF32 tensor cores; TF32 needs CUDA with compute capability 8.0 or higher";
        if (cuda.Architecture is not { } arch)
            return $"tf32: the {what} reports no compute capability, so TF32 cannot be relied on";
        if (arch.Major < 8)
            return $"tf32: the {what} has compute capability {arch.Major}.{arch.Minor}; TF32 needs 8.0 or higher";
        return null;
    }

    /// <summary>Throws the refusal of <see cref="Refusal"/> as an <see cref="AcceleratorUnavailableException"/>.</summary>
    public static void Require(Device device, Precision precision)
    {
        if (Refusal(device, precision) is { } why) throw new AcceleratorUnavailableException(why);
    }
}
