using System.Runtime.CompilerServices;

namespace GpuAutoencoder.Kernels;

/// <summary>
/// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 in plain C#, for ILGPU's CPU accelerator, which
/// cannot run inline PTX: every lane of a 32-lane warp passes the registers it would pass the tensor
/// core, and each lane gathers the elements its own C registers need from the lanes that hold them
/// (<see cref="Tf32Fragment"/>'s layout) through warp shuffles. The operands are TF32 values already,
/// so every product is exact in fp32; the sum runs in fp32 in depth order. The tensor core's own order
/// and internal width are not documented, which is why tests compare with a tolerance that allows any
/// fp32 summation order, never bit for bit.
/// Lets <see cref="MatmulTf32"/> run whole, staging and epilogue included, in tests without a GPU.
/// </summary>
public readonly struct EmulatedMma : ITf32Mma
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ArrayView<float> Start()
    {
        var accumulators = LocalMemory.Allocate<float>(MatmulTf32.Accumulators);
        for (int i = 0; i < MatmulTf32.Accumulators; i++) accumulators[i] = 0f;
        return accumulators;
    }

    public void Mma(ArrayView<float> accumulators, int tile, float a0, float a1, float a2, float a3, float b0, float b1)
    {
        var mine = new Operands(a0, a1, a2, a3, b0, b1);
        int lane = Warp.LaneIdx;
        for (int reg = 0; reg < 4; reg++)
        {
            int row = Tf32Fragment.CRow(lane, reg), col = Tf32Fragment.CCol(lane, reg);
            float sum = accumulators[4 * tile + reg];
            for (int k = 0; k < Tf32Fragment.K; k++)
            {
                // All lanes shuffle together, each naming the lane that holds the element it needs.
                var fromA = Warp.Shuffle(mine, Tf32Fragment.ALane(row, k));
                var fromB = Warp.Shuffle(mine, Tf32Fragment.BLane(k, col));
                sum += fromA.A(Tf32Fragment.AReg(row, k)) * fromB.B(Tf32Fragment.BReg(k, col));
            }
            accumulators[4 * tile + reg] = sum;
        }
    }

    public void Store(ArrayView<float> accumulators, int tile, ArrayView<float> shared, int upper, int lower)
    {
        shared[upper] = accumulators[4 * tile];
        shared[upper + 1] = accumulators[4 * tile + 1];
        shared[lower] = accumulators[4 * tile + 2];
        shared[lower + 1] = accumulators[4 * tile + 3];
    }

    /// <summary>One lane's a0..a3 and b0, b1, shuffled as one.</summary>
    readonly struct Operands(float a0, float a1, float a2, float a3, float b0, float b1)
    {
        readonly float a0 = a0, a1 = a1, a2 = a2, a3 = a3, b0 = b0, b1 = b1;

        public float A(int reg) => reg switch { 0 => a0, 1 => a1, 2 => a2, _ => a3 };
        public float B(int reg) => reg == 0 ? b0 : b1;
    }
}
