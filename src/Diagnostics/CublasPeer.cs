using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json.Serialization;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Model;
using Architecture = GpuAutoencoder.Training.Model.Architecture;
using ILGPU.Runtime.Cuda;

namespace GpuAutoencoder.Diagnostics;

/// <summary>One product shape of a training step, timed with our kernel and with cuBLAS SGEMM.</summary>
public sealed record ProductTiming(
    [property: JsonPropertyName("product")] string Product,
    [property: JsonPropertyName("m")] int M,
    [property: JsonPropertyName("n")] int N,
    [property: JsonPropertyName("k")] int K,
    [property: JsonPropertyName("ours_ms")] double OursMs,
    [property: JsonPropertyName("cublas_ms")] double CublasMs,
    [property: JsonPropertyName("ours_tflops")] double OursTflops,
    [property: JsonPropertyName("cublas_tflops")] double CublasTflops,
    [property: JsonPropertyName("max_abs_difference")] double MaxAbsDifference);

/// <summary>
/// cuBLAS SGEMM (through ILGPU.Algorithms' <see cref="CuBlas"/>) on the very products a training
/// step runs, beside our kernels on the same buffers: a peer for the products themselves.
/// </summary>
public static class CublasPeer
{
    static int resolverInstalled;

    /// <summary>
    /// ILGPU.Algorithms 1.5.3 binds libcublas.so.10/11/12 by name; CUDA 13 hosts ship libcublas.so.13
    /// with the same C entry points. Resolve any cuBLAS name it asks for to the newest one present.
    /// </summary>
    public static void InstallLibraryResolver()
    {
        if (Interlocked.Exchange(ref resolverInstalled, 1) == 1) return;
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(CuBlas).Assembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // The assembly already has a resolver; then its own lookup stands.
        }
    }

    static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (!name.Contains("cublas", StringComparison.OrdinalIgnoreCase)) return IntPtr.Zero;
        if (NativeLibrary.TryLoad(name, assembly, path, out var handle)) return handle;
        string[] candidates = OperatingSystem.IsWindows()
            ? ["cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"]
            : ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"];
        foreach (var candidate in candidates)
            if (NativeLibrary.TryLoad(candidate, assembly, path, out handle)) return handle;
        return IntPtr.Zero;
    }

    /// <summary>The products of one batch-<paramref name="batch"/> step, each timed over <paramref name="reps"/> launches after two warm-ups.</summary>
    public static IReadOnlyList<ProductTiming> Run(DeviceKernels kernels, int reps, int batch = 2048, int bottleneck = 8)
    {
        if (kernels.Accelerator is not CudaAccelerator cuda)
            throw new InvalidOperationException($"cuBLAS needs a CUDA accelerator, not {Accelerators.Name(kernels.Accelerator.AcceleratorType)}");
        InstallLibraryResolver();
        using var blas = new CuBlas(cuda);
        var acc = kernels.Accelerator;
        var rng = new Random(1);
        var results = new List<ProductTiming>();
        var layers = new Architecture(bottleneck).Layers;
        foreach (var layer in layers)
        {
            int m = batch, n = layer.Outputs, k = layer.Inputs;
            using var x = kernels.Transfers.Allocate(Validation.RandomFloats(rng, m * k, -1f, 1f));
            using var w = kernels.Transfers.Allocate(Validation.RandomFloats(rng, n * k, -0.05f, 0.05f));
            using var dy = kernels.Transfers.Allocate(Validation.RandomFloats(rng, m * n, -0.01f, 0.01f));
            using var bias = acc.Allocate1D<float>(n);
            using var ours = acc.Allocate1D<float>(Math.Max(m * n, Math.Max(m * k, n * k)));
            using var theirs = acc.Allocate1D<float>(ours.Length);
            bias.MemSetToZero();
            // Row-major products as column-major SGEMM: C_rm[r,c] is Cᵀ in column-major, so each
            // call computes Cᵀ = op(B)ᵀ·op(A)ᵀ with the operands' roles swapped.
            var products = new (string Name, MatmulShape Shape, int Rows, int Cols, Action Ours, Action Cublas)[]
            {
                ($"{layer.Name} forward", MatmulShape.Forward, m, n,
                    () => kernels.LinearForward(x.View, w.View, bias.View, ours.View, new(m, n, k), Activation.Identity),
                    () => blas.Gemm(CuBlasOperation.Transpose, CuBlasOperation.NonTranspose, n, m, k, 1f, w.View, k, x.View, k, 0f, theirs.View, n)),
                ($"{layer.Name} weight grad", MatmulShape.BackwardWeight, n, k,
                    () => kernels.LinearBackwardWeight(dy.View, x.View, ours.View, new(m, n, k)),
                    () => blas.Gemm(CuBlasOperation.NonTranspose, CuBlasOperation.Transpose, k, n, m, 1f, x.View, k, dy.View, n, 0f, theirs.View, k)),
                ($"{layer.Name} input grad", MatmulShape.BackwardInput, m, k,
                    () => kernels.LinearBackwardInput(dy.View, w.View, null, ours.View, new(m, n, k)),
                    () => blas.Gemm(CuBlasOperation.NonTranspose, CuBlasOperation.NonTranspose, k, m, n, 1f, w.View, k, dy.View, n, 0f, theirs.View, k)),
            };
            foreach (var p in products)
            {
                // The first layer's input gradient is never computed in training; keep the table to what a step runs.
                if (p.Shape == MatmulShape.BackwardInput && layer == layers[0]) continue;
                double oursS = Time(acc, p.Ours, reps), theirsS = Time(acc, p.Cublas, reps);
                int count = p.Rows * p.Cols;
                var a = kernels.Transfers.Download(ours.View.SubView(0, count));
                var b = kernels.Transfers.Download(theirs.View.SubView(0, count));
                double diff = 0;
                for (int i = 0; i < count; i++) diff = Math.Max(diff, Math.Abs((double)a[i] - b[i]));
                double flop = 2.0 * m * n * k;
                results.Add(new ProductTiming(p.Name, m, n, k, oursS * 1e3, theirsS * 1e3, flop / oursS / 1e12, flop / theirsS / 1e12, diff));
            }
        }
        return results;
    }

    static double Time(Accelerator acc, Action launch, int reps)
    {
        launch();
        launch();
        acc.Synchronize();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) launch();
        acc.Synchronize();
        return clock.Elapsed.TotalSeconds / reps;
    }
}
