using System.Runtime.CompilerServices;
using ILGPU.Runtime.Cuda;

namespace GpuAutoencoder.Kernels;

/// <summary>
/// <see cref="MatmulTf32"/>'s mma on the tensor cores, through inline PTX (CUDA, compute capability 8.0+).
/// The accumulators are PTX registers the kernel declares itself, tfacc0..tfacc31, four for each of a
/// warp's eight mma tiles (tile t: c0..c3 in tfacc4t..tfacc4t+3): ILGPU hands every output operand of
/// inline PTX back through the address of its C# variable, which for a local variable means local
/// memory, so the mma takes only inputs and updates these registers in place, and only the final
/// store names them, with shared memory as its output address. Each string is a constant because ILGPU
/// reads it at the call site.
/// </summary>
public readonly struct TensorCoreMma : ITf32Mma
{
    /// <summary>Declares the accumulators and zeroes them; once, at the start of the kernel, before any branch.</summary>
    public const string DeclareAccumulators = ".reg .f32 tfacc<32>;\n\tmov.b32 tfacc0, 0;\n\tmov.b32 tfacc1, 0;\n\tmov.b32 tfacc2, 0;\n\tmov.b32 tfacc3, 0;\n\tmov.b32 tfacc4, 0;\n\tmov.b32 tfacc5, 0;\n\tmov.b32 tfacc6, 0;\n\tmov.b32 tfacc7, 0;\n\tmov.b32 tfacc8, 0;\n\tmov.b32 tfacc9, 0;\n\tmov.b32 tfacc10, 0;\n\tmov.b32 tfacc11, 0;\n\tmov.b32 tfacc12, 0;\n\tmov.b32 tfacc13, 0;\n\tmov.b32 tfacc14, 0;\n\tmov.b32 tfacc15, 0;\n\tmov.b32 tfacc16, 0;\n\tmov.b32 tfacc17, 0;\n\tmov.b32 tfacc18, 0;\n\tmov.b32 tfacc19, 0;\n\tmov.b32 tfacc20, 0;\n\tmov.b32 tfacc21, 0;\n\tmov.b32 tfacc22, 0;\n\tmov.b32 tfacc23, 0;\n\tmov.b32 tfacc24, 0;\n\tmov.b32 tfacc25, 0;\n\tmov.b32 tfacc26, 0;\n\tmov.b32 tfacc27, 0;\n\tmov.b32 tfacc28, 0;\n\tmov.b32 tfacc29, 0;\n\tmov.b32 tfacc30, 0;\n\tmov.b32 tfacc31, 0;";

    /// <summary>D = A·B + D for tile t: %0..%3 are a0..a3, %4 and %5 b0 and b1, all TF32 values.</summary>
    public const string Mma0 = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {tfacc0,tfacc1,tfacc2,tfacc3}, {%0,%1,%2,%3}, {%4,%5}, {tfacc0,tfacc1,tfacc2,tfacc3};";
    public const string Mma1 = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {tfacc4,tfacc5,tfacc6,tfacc7}, {%0,%1,%2,%3}, {%4,%5}, {tfacc4,tfacc5,tfacc6,tfacc7};";
    public const string Mma2 = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {tfacc8,tfacc9,tfacc10,tfacc11}, {%0,%1,%2,%3}, {%4,%5}, {tfacc8,tfacc9,tfacc10,tfacc11};";
    public const string Mma3 = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {tfacc12,tfacc13,tfacc14,tfacc15}, {%0,%1,%2,%3}, {%4,%5}, {tfacc12,tfacc13,tfacc14,tfacc15};";
    public const string Mma4 = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {tfacc16,tfacc17,tfacc18,tfacc19}, {%0,%1,%2,%3}, {%4,%5}, {tfacc16,tfacc17,tfacc18,tfacc19};";
    public const string Mma5 = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {tfacc20,tfacc21,tfacc22,tfacc23}, {%0,%1,%2,%3}, {%4,%5}, {tfacc20,tfacc21,tfacc22,tfacc23};";
    public const string Mma6 = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {tfacc24,tfacc25,tfacc26,tfacc27}, {%0,%1,%2,%3}, {%4,%5}, {tfacc24,tfacc25,tfacc26,tfacc27};";
    public const string Mma7 = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {tfacc28,tfacc29,tfacc30,tfacc31}, {%0,%1,%2,%3}, {%4,%5}, {tfacc28,tfacc29,tfacc30,tfacc31};";

    /// <summary>Tile t's c0, c1 packed into the 64-bit output %0 and c2, c3 into %1.</summary>
    public const string Store0 = "mov.b64 %0, {tfacc0,tfacc1};\n\tmov.b64 %1, {tfacc2,tfacc3};";
    public const string Store1 = "mov.b64 %0, {tfacc4,tfacc5};\n\tmov.b64 %1, {tfacc6,tfacc7};";
    public const string Store2 = "mov.b64 %0, {tfacc8,tfacc9};\n\tmov.b64 %1, {tfacc10,tfacc11};";
    public const string Store3 = "mov.b64 %0, {tfacc12,tfacc13};\n\tmov.b64 %1, {tfacc14,tfacc15};";
    public const string Store4 = "mov.b64 %0, {tfacc16,tfacc17};\n\tmov.b64 %1, {tfacc18,tfacc19};";
    public const string Store5 = "mov.b64 %0, {tfacc20,tfacc21};\n\tmov.b64 %1, {tfacc22,tfacc23};";
    public const string Store6 = "mov.b64 %0, {tfacc24,tfacc25};\n\tmov.b64 %1, {tfacc26,tfacc27};";
    public const string Store7 = "mov.b64 %0, {tfacc28,tfacc29};\n\tmov.b64 %1, {tfacc30,tfacc31};";

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ArrayView<float> Start()
    {
        CudaAsm.Emit(DeclareAccumulators);
        return default;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Mma(ArrayView<float> accumulators, int tile, float a0, float a1, float a2, float a3, float b0, float b1)
    {
        // The mma takes TF32 operands in .b32 registers, not .f32 ones: the same bits, renamed.
        uint x0 = Interop.FloatAsInt(a0), x1 = Interop.FloatAsInt(a1), x2 = Interop.FloatAsInt(a2), x3 = Interop.FloatAsInt(a3);
        uint y0 = Interop.FloatAsInt(b0), y1 = Interop.FloatAsInt(b1);
        // A constant at every call site, so the switch folds to its one statement.
        switch (tile)
        {
            case 0: CudaAsm.Emit(Mma0, x0, x1, x2, x3, y0, y1); break;
            case 1: CudaAsm.Emit(Mma1, x0, x1, x2, x3, y0, y1); break;
            case 2: CudaAsm.Emit(Mma2, x0, x1, x2, x3, y0, y1); break;
            case 3: CudaAsm.Emit(Mma3, x0, x1, x2, x3, y0, y1); break;
            case 4: CudaAsm.Emit(Mma4, x0, x1, x2, x3, y0, y1); break;
            case 5: CudaAsm.Emit(Mma5, x0, x1, x2, x3, y0, y1); break;
            case 6: CudaAsm.Emit(Mma6, x0, x1, x2, x3, y0, y1); break;
            default: CudaAsm.Emit(Mma7, x0, x1, x2, x3, y0, y1); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(ArrayView<float> accumulators, int tile, ArrayView<float> shared, int upper, int lower)
    {
        // ILGPU stores an output operand to the address it is given: here shared memory, never local memory.
        ref var u = ref Unsafe.As<float, Output<ulong>>(ref shared[upper]);
        ref var l = ref Unsafe.As<float, Output<ulong>>(ref shared[lower]);
        switch (tile)
        {
            case 0: CudaAsm.EmitRef(Store0, ref u, ref l); break;
            case 1: CudaAsm.EmitRef(Store1, ref u, ref l); break;
            case 2: CudaAsm.EmitRef(Store2, ref u, ref l); break;
            case 3: CudaAsm.EmitRef(Store3, ref u, ref l); break;
            case 4: CudaAsm.EmitRef(Store4, ref u, ref l); break;
            case 5: CudaAsm.EmitRef(Store5, ref u, ref l); break;
            case 6: CudaAsm.EmitRef(Store6, ref u, ref l); break;
            default: CudaAsm.EmitRef(Store7, ref u, ref l); break;
        }
    }
}
