using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace GpuAutoencoder.Kernels;

/// <summary>
/// Four consecutive floats. Reading a row through a <c>Float4</c> view moves four values per
/// view access, which is what lets the register-blocked kernels reach useful speed on ILGPU's
/// CPU accelerator (and gives 16-byte loads on a GPU).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct Float4(float x, float y, float z, float w)
{
    public float X = x, Y = y, Z = z, W = w;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(Float4 a, Float4 b) => a.X * b.X + a.Y * b.Y + a.Z * b.Z + a.W * b.W;

    /// <summary>acc + s·v, component-wise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float4 MulAdd(Float4 acc, float s, Float4 v) =>
        new(acc.X + s * v.X, acc.Y + s * v.Y, acc.Z + s * v.Z, acc.W + s * v.W);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Get(int i) => i switch { 0 => X, 1 => Y, 2 => Z, _ => W };
}
