namespace GpuAutoencoder.Kernels;

/// <summary>
/// The m16n8k8 TF32 mma of <see cref="MatmulTf32"/> and where its accumulators live: on the tensor cores
/// (<see cref="TensorCoreMma"/>) or emulated in C# (<see cref="EmulatedMma"/>). The kernel is generic over
/// it, so each accelerator compiles only its own: the emulation never reaches the PTX backend.
/// A lane holds the accumulators of MatmulTf32.MmaRows × MatmulTf32.MmaCols mma tiles, four each.
/// </summary>
public interface ITf32Mma
{
    /// <summary>Makes zeroed accumulators; called once at the start of the kernel. Returns their storage where it is memory.</summary>
    ArrayView<float> Start();

    /// <summary>D = A·B + D for mma tile <paramref name="tile"/>: this lane's a0..a3 and b0, b1, TF32 values.</summary>
    void Mma(ArrayView<float> accumulators, int tile, float a0, float a1, float a2, float a3, float b0, float b1);

    /// <summary>Writes tile <paramref name="tile"/>'s c0, c1 to shared[upper], shared[upper + 1] and c2, c3 to shared[lower], shared[lower + 1].</summary>
    void Store(ArrayView<float> accumulators, int tile, ArrayView<float> shared, int upper, int lower);
}
