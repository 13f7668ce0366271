namespace GpuAutoencoder.Kernels;

/// <summary>
/// The one Adam kernel, with the scalars it takes and its float64 reference. Training runs it through
/// <see cref="AdamStepTable"/>, and selftest and bench check that same launch against
/// <see cref="AdamReference"/>, so a kernel that passes is the kernel that trains.
/// </summary>
public static class AdamKernels
{
    /// <summary>
    /// One Adam step over every parameter, exactly as torch.optim.Adam (no weight decay, no amsgrad),
    /// with the step's scalars read from table[cursor[0]] (a <see cref="AdamStep"/>'s two step-dependent
    /// values) so that a step's launch takes no argument that changes from one step to the next.
    /// </summary>
    public static void Step(Index1D index, ArrayView<float> param, ArrayView<float> grad, ArrayView<float> m,
        ArrayView<float> v, int count, AdamConstants c, ArrayView<float> table, ArrayView<int> cursor, int stride)
    {
        int at = 2 * cursor[0];
        float stepSize = table[at], biasCorrection2Sqrt = table[at + 1];
        for (int i = index; i < count; i += stride)
        {
            float g = grad[i];
            float mi = c.Beta1 * m[i] + (1f - c.Beta1) * g;
            float vi = c.Beta2 * v[i] + (1f - c.Beta2) * g * g;
            m[i] = mi;
            v[i] = vi;
            param[i] -= stepSize * mi / (MathF.Sqrt(vi) / biasCorrection2Sqrt + c.Epsilon);
        }
    }

    /// <summary>Moves the cursor to the next step's entry; launched with one thread, after the step's Adam.</summary>
    public static void Advance(Index1D index, ArrayView<int> cursor)
    {
        if (index == 0) cursor[0] += 1;
    }
}

/// <summary>Adam's scalars that stay the same for a whole run.</summary>
public readonly struct AdamConstants(float beta1, float beta2, float epsilon)
{
    public readonly float Beta1 = beta1, Beta2 = beta2, Epsilon = epsilon;
}

/// <summary>
/// The scalars of one Adam step. The bias corrections depend only on the step number, so the host
/// computes them in double precision, as PyTorch does, and rounds them once to float.
/// </summary>
public readonly struct AdamStep
{
    /// <summary>lr / (1 − β1ᵗ).</summary>
    public readonly float StepSize;
    /// <summary>√(1 − β2ᵗ).</summary>
    public readonly float BiasCorrection2Sqrt;

    public AdamStep(double learningRate, double beta1, double beta2, long step)
    {
        StepSize = (float)(learningRate / (1 - Math.Pow(beta1, step)));
        BiasCorrection2Sqrt = (float)Math.Sqrt(1 - Math.Pow(beta2, step));
    }
}

/// <summary>The float64 reference for <see cref="AdamKernels.Step"/>.</summary>
public static class AdamReference
{
    /// <returns>The updated parameters, first and second moments.</returns>
    public static (double[] P, double[] M, double[] V) Step(float[] p, float[] g, float[] m, float[] v,
        double lr, double beta1, double beta2, double eps, long step)
    {
        int n = p.Length;
        double[] po = new double[n], mo = new double[n], vo = new double[n];
        double bc1 = 1 - Math.Pow(beta1, step), bc2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, step));
        for (int i = 0; i < n; i++)
        {
            mo[i] = beta1 * m[i] + (1 - beta1) * g[i];
            vo[i] = beta2 * v[i] + (1 - beta2) * (double)g[i] * g[i];
            po[i] = p[i] - lr / bc1 * mo[i] / (Math.Sqrt(vo[i]) / bc2Sqrt + eps);
        }
        return (po, mo, vo);
    }
}
