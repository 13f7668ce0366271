using System.Runtime.CompilerServices;

namespace GpuAutoencoder.Kernels;

/// <summary>
/// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 in plain C#, for ILGPU's CPU accelerator, which
/// cannot run inline PTX: every lane of a 32-lane warp passes the registers it would pass the tensor
/// core, the warp publishes them in shared memory, and each lane gathers the elements its own C
/// registers need from the lanes that hold them (<see cref="Tf32Fragment"/>'s layout). The operands are
/// TF32 values already, so every product is exact in fp32; the sum runs in fp32 in depth order. The
/// tensor core's own order and internal width are not documented, which is why tests compare with a
/// tolerance that allows any fp32 summation order, never bit for bit.
/// Lets <see cref="MatmulTf32"/> run whole, staging and epilogue included, in tests without a GPU. Each
/// simulated thread is an OS thread, so the exchange costs two warp barriers per mma, not a shuffle per element.
/// </summary>
public readonly struct EmulatedMma : ITf32Mma
{
    const int Operands = 6;

    /// <summary>One shared region: every lane's published operands, then every thread's accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ArrayView<float> Start()
    {
        var shared = SharedMemory.Allocate<float>(MatmulTf32.GroupSize * (Operands + MatmulTf32.Accumulators));
        int mine = Mine();
        for (int i = 0; i < MatmulTf32.Accumulators; i++) shared[mine + i] = 0f;
        return shared;
    }

    static int Mine() => MatmulTf32.GroupSize * Operands + ILGPU.Group.IdxX * MatmulTf32.Accumulators;

    public void Mma(ArrayView<float> accumulators, int tile, float a0, float a1, float a2, float a3, float b0, float b1)
    {
        int lane = Warp.LaneIdx, warpLanes = (ILGPU.Group.IdxX - lane) * Operands;
        var published = accumulators.SubView(warpLanes, Tf32Fragment.WarpSize * Operands);
        published[lane * Operands] = a0;
        published[lane * Operands + 1] = a1;
        published[lane * Operands + 2] = a2;
        published[lane * Operands + 3] = a3;
        published[lane * Operands + 4] = b0;
        published[lane * Operands + 5] = b1;
        Warp.Barrier();
        int mine = Mine() + 4 * tile;
        for (int reg = 0; reg < 4; reg++)
        {
            int row = Tf32Fragment.CRow(lane, reg), col = Tf32Fragment.CCol(lane, reg);
            float sum = accumulators[mine + reg];
            for (int k = 0; k < Tf32Fragment.K; k++)
                sum += published[Tf32Fragment.ALane(row, k) * Operands + Tf32Fragment.AReg(row, k)]
                    * published[Tf32Fragment.BLane(k, col) * Operands + 4 + Tf32Fragment.BReg(k, col)];
            accumulators[mine + reg] = sum;
        }
        // Nobody publishes the next mma's operands before every lane has read these.
        Warp.Barrier();
    }

    public void Store(ArrayView<float> accumulators, int tile, ArrayView<float> shared, int upper, int lower)
    {
        int mine = Mine() + 4 * tile;
        shared[upper] = accumulators[mine];
        shared[upper + 1] = accumulators[mine + 1];
        shared[lower] = accumulators[mine + 2];
        shared[lower + 1] = accumulators[mine + 3];
    }
}
