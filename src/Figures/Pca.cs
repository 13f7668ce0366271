namespace GpuAutoencoder.Figures;

/// <summary>Principal components of a small number of dimensions (the bottleneck's), in float64.</summary>
public static class Pca
{
    /// <summary>The rows of <paramref name="data"/> [n, d] projected on the first two principal axes, and the share of variance each explains.</summary>
    public static (double[] X, double[] Y, double[] Explained) Project2D(ReadOnlySpan<float> data, int d)
    {
        int n = data.Length / d;
        var mean = new double[d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) mean[j] += data[i * d + j] / (double)n;
        var cov = new double[d, d];
        for (int i = 0; i < n; i++)
            for (int a = 0; a < d; a++)
                for (int b = 0; b < d; b++) cov[a, b] += (data[i * d + a] - mean[a]) * (data[i * d + b] - mean[b]) / Math.Max(1, n - 1);
        var (values, vectors) = Jacobi(cov, d);
        var order = Enumerable.Range(0, d).OrderByDescending(k => values[k]).ToArray();
        double total = values.Sum();
        var projected = new double[2][];
        for (int c = 0; c < 2; c++)
        {
            projected[c] = new double[n];
            // A bottleneck of one unit has no second axis; its points then lie on a line.
            if (c >= d) continue;
            int k = order[c];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < d; j++) projected[c][i] += (data[i * d + j] - mean[j]) * vectors[j, k];
        }
        var explained = order.Take(2).Select(k => total > 0 ? values[k] / total : 0).ToArray();
        return (projected[0], projected[1], explained);
    }

    /// <summary>Eigenvalues and eigenvectors (columns) of a symmetric matrix by cyclic Jacobi rotations: exact enough and short for d ≤ 100.</summary>
    static (double[] Values, double[,] Vectors) Jacobi(double[,] m, int d)
    {
        var a = (double[,])m.Clone();
        var v = new double[d, d];
        for (int i = 0; i < d; i++) v[i, i] = 1;
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (int p = 0; p < d; p++)
                for (int q = p + 1; q < d; q++) off += a[p, q] * a[p, q];
            if (off < 1e-30) break;
            for (int p = 0; p < d; p++)
                for (int q = p + 1; q < d; q++)
                {
                    if (a[p, q] == 0) continue;
                    double theta = (a[q, q] - a[p, p]) / (2 * a[p, q]);
                    double t = Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < d; k++)
                    {
                        double akp = a[k, p], akq = a[k, q];
                        a[k, p] = c * akp - s * akq;
                        a[k, q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < d; k++)
                    {
                        double apk = a[p, k], aqk = a[q, k];
                        a[p, k] = c * apk - s * aqk;
                        a[q, k] = s * apk + c * aqk;
                    }
                    for (int k = 0; k < d; k++)
                    {
                        double vkp = v[k, p], vkq = v[k, q];
                        v[k, p] = c * vkp - s * vkq;
                        v[k, q] = s * vkp + c * vkq;
                    }
                }
        }
        return (Enumerable.Range(0, d).Select(i => a[i, i]).ToArray(), v);
    }
}
