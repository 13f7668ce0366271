using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Training;

/// <summary>
/// The whole training step in float64 on the CPU, written as plainly as possible: the trusted
/// twin of <see cref="DeviceTrainer"/>, against which the device's results are compared.
/// Parameters use the same flat layout (padding included) as the device buffer.
/// </summary>
public sealed class ReferenceModel
{
    readonly ParameterLayout layout;
    readonly double[] m, v;
    long step;

    public double[] Parameters { get; }

    public ReferenceModel(ParameterLayout layout, float[] parameters)
    {
        this.layout = layout;
        Parameters = parameters.Select(p => (double)p).ToArray();
        m = new double[parameters.Length];
        v = new double[parameters.Length];
    }

    /// <summary>Activations of every layer: [0] is the input, [4] the reconstruction.</summary>
    public double[][] Forward(double[] input, int rows)
    {
        var acts = new double[layout.Slots.Count + 1][];
        acts[0] = input;
        for (int l = 0; l < layout.Slots.Count; l++)
        {
            var (spec, w, b) = (layout.Slots[l].Spec, layout.Slots[l].WeightOffset, layout.Slots[l].BiasOffset);
            var x = acts[l];
            var y = new double[rows * spec.Outputs];
            Parallel.For(0, rows, i =>
            {
                for (int j = 0; j < spec.Outputs; j++)
                {
                    double s = Parameters[b + j];
                    for (int p = 0; p < spec.Inputs; p++) s += x[i * spec.Inputs + p] * Parameters[w + j * spec.Inputs + p];
                    y[i * spec.Outputs + j] = spec.Activation switch
                    {
                        Activation.Relu => Math.Max(0, s),
                        Activation.Sigmoid => 1 / (1 + Math.Exp(-s)),
                        _ => s,
                    };
                }
            });
            acts[l + 1] = y;
        }
        return acts;
    }

    /// <summary>The mean squared error of the reconstruction against the input, and its gradient for every parameter.</summary>
    public (double Loss, double[] Gradients) LossAndGradients(double[] input, int rows)
    {
        var acts = Forward(input, rows);
        var output = acts[^1];
        double n = (double)rows * Architecture.Pixels, loss = 0;
        // delta: the gradient with respect to the current layer's pre-activation.
        var delta = new double[output.Length];
        for (int i = 0; i < output.Length; i++)
        {
            double diff = output[i] - input[i];
            loss += diff * diff;
            delta[i] = 2 * diff / n * output[i] * (1 - output[i]);
        }
        var grads = new double[Parameters.Length];
        for (int l = layout.Slots.Count - 1; l >= 0; l--)
        {
            var (spec, w, b) = (layout.Slots[l].Spec, layout.Slots[l].WeightOffset, layout.Slots[l].BiasOffset);
            var x = acts[l];
            var d = delta;
            Parallel.For(0, spec.Outputs, j =>
            {
                double gb = 0;
                for (int i = 0; i < rows; i++)
                {
                    double g = d[i * spec.Outputs + j];
                    gb += g;
                    for (int p = 0; p < spec.Inputs; p++) grads[w + j * spec.Inputs + p] += g * x[i * spec.Inputs + p];
                }
                grads[b + j] = gb;
            });
            if (l == 0) break;
            var below = new double[rows * spec.Inputs];
            Parallel.For(0, rows, i =>
            {
                var row = below.AsSpan(i * spec.Inputs, spec.Inputs);
                for (int j = 0; j < spec.Outputs; j++)
                {
                    double g = d[i * spec.Outputs + j];
                    if (g == 0) continue;
                    for (int p = 0; p < spec.Inputs; p++) row[p] += g * Parameters[w + j * spec.Inputs + p];
                }
                // The layer below ends in a ReLU: no gradient where it output zero.
                for (int p = 0; p < spec.Inputs; p++)
                    if (x[i * spec.Inputs + p] <= 0) row[p] = 0;
            });
            delta = below;
        }
        return (loss / n, grads);
    }

    /// <summary>One step of torch.optim.Adam's update rule; returns the batch loss before the step.</summary>
    public double TrainStep(double[] input, int rows, double learningRate, TrainingOptions o)
    {
        var (loss, g) = LossAndGradients(input, rows);
        step++;
        double bc1 = 1 - Math.Pow(o.Beta1, step), bc2Sqrt = Math.Sqrt(1 - Math.Pow(o.Beta2, step));
        for (int i = 0; i < Parameters.Length; i++)
        {
            m[i] = o.Beta1 * m[i] + (1 - o.Beta1) * g[i];
            v[i] = o.Beta2 * v[i] + (1 - o.Beta2) * g[i] * g[i];
            Parameters[i] -= learningRate / bc1 * m[i] / (Math.Sqrt(v[i]) / bc2Sqrt + o.Epsilon);
        }
        return loss;
    }

    /// <summary>Images [count, 784] as bytes to the network's input scale, [0, 1].</summary>
    public static double[] Scale(byte[] images, int first, int rows) =>
        Enumerable.Range(first * Architecture.Pixels, rows * Architecture.Pixels).Select(i => images[i] / 255.0).ToArray();
}
