namespace GpuAutoencoder.Kernels;

/// <summary>Numbered versions of the matrix products, as in llm.c's dev/cuda.</summary>
public enum MatmulVersion
{
    /// <summary>One output per thread; any size, any alignment.</summary>
    Naive = 1,
    /// <summary>Barrier-free 4×4 register blocks from Float4 loads: the CPU accelerator's schedule.</summary>
    Blocked = 2,
    /// <summary>Shared-memory tiles with barriers plus register blocking: the GPU schedule.</summary>
    Tiled = 3,
    /// <summary>TF32 tensor-core mma.sync through inline PTX (CUDA 8.0+ only): <see cref="Precision.Tf32"/>'s product.</summary>
    Tf32 = 4,
    /// <summary>Products with a side of at most 8 (the bottleneck): the GPU schedule's fp32 choice for them, never asked for by number.</summary>
    Skinny = 5,
}
