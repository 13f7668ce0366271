using System.Diagnostics;
using System.Text.Json.Serialization;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Diagnostics;

/// <summary>Time and arithmetic of one phase of the training step (forward, loss, backward, update).</summary>
public sealed record PhaseTiming(
    [property: JsonPropertyName("phase")] string Phase,
    [property: JsonPropertyName("seconds_per_step")] double SecondsPerStep,
    [property: JsonPropertyName("gflops")] double Gflops,
    [property: JsonPropertyName("share")] double Share);

public sealed record BenchmarkResult(
    [property: JsonPropertyName("accelerator")] string Accelerator,
    [property: JsonPropertyName("device")] string Device,
    [property: JsonPropertyName("schedule")] string Schedule,
    [property: JsonPropertyName("matmul_version")] int MatmulVersion,
    [property: JsonPropertyName("groups_per_multiprocessor")] int GroupsPerMultiprocessor,
    [property: JsonPropertyName("batch")] int Batch,
    [property: JsonPropertyName("steps")] int Steps,
    [property: JsonPropertyName("seconds_per_step")] double SecondsPerStep,
    [property: JsonPropertyName("samples_per_second")] double SamplesPerSecond,
    [property: JsonPropertyName("steps_per_second")] double StepsPerSecond,
    [property: JsonPropertyName("estimated_epoch_seconds")] double EstimatedEpochSeconds,
    [property: JsonPropertyName("estimated_50_epoch_seconds")] double Estimated50EpochSeconds,
    [property: JsonPropertyName("gflops")] double Gflops,
    [property: JsonPropertyName("flop_per_epoch")] double FlopPerEpoch,
    [property: JsonPropertyName("phases")] IReadOnlyList<PhaseTiming> Phases,
    [property: JsonPropertyName("host_device_bytes_per_step")] double HostDeviceBytesPerStep,
    [property: JsonPropertyName("measured_epoch_seconds")] double? MeasuredEpochSeconds,
    [property: JsonPropertyName("host_device_bytes_per_epoch")] long? HostDeviceBytesPerEpoch)
{
    /// <summary>How the timed training steps ran: "cuda graph", or "plain launches (why)".</summary>
    [JsonPropertyName("step_path")] public string? StepPath { get; init; }
}

/// <summary>
/// Times training steps on the full-size problem. Launches are asynchronous, so every timed region
/// starts and ends with a device synchronisation, after warm-up steps that absorb kernel compilation.
/// </summary>
public static class Benchmark
{
    /// <summary>MNIST's training set: the epoch the estimates are for.</summary>
    public const int EpochImages = 60_000;

    /// <summary>
    /// Checks the kernels against the float64 reference with <paramref name="check"/> (by default
    /// selftest's rows for exactly this schedule and matrix-product version), and times them only
    /// when every row passes, as llm.c's dev/cuda validates before it benchmarks.
    /// </summary>
    /// <exception cref="UnvalidatedKernelsException">A row failed; nothing was timed.</exception>
    public static BenchmarkResult Run(DeviceKernels kernels, int steps, int batch = 2048, int bottleneck = 8, bool timeEpoch = false,
        Func<DeviceKernels, IEnumerable<SelfTestRow>>? check = null)
    {
        var rows = (check ?? (k => SelfTest.Rows(k, new Random(1)))).Invoke(kernels).ToList();
        if (rows.Any(r => !r.Passed)) throw new UnvalidatedKernelsException(rows);

        var layout = new ParameterLayout(new Architecture(bottleneck));
        var rng = new Random(1);
        // Random pixels cost the kernels what real digits cost them; a few batches' worth keeps the upload short.
        int count = timeEpoch ? EpochImages : batch * 4;
        var images = new byte[count * Architecture.Pixels];
        rng.NextBytes(images);
        var options = new TrainingOptions { BatchSize = batch, Bottleneck = bottleneck, Shuffle = false, Epochs = 1 };
        using var trainer = new DeviceTrainer(kernels, layout, images, count, options, layout.Initialize(1));

        // Each timed call is what training calls: the whole step (the batch cursor moves through the
        // few batches and wraps), or one of its four phases alone. The warm-up also captures the step.
        double Time(Action run, int n)
        {
            for (int i = 0; i < 2; i++) run();
            kernels.Stream.Synchronize();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < n; i++) run();
            kernels.Stream.Synchronize();
            return clock.Elapsed.TotalSeconds / n;
        }

        // Adam's step table goes up before the steps, as training uploads it beside an epoch's permutation.
        trainer.PrepareSteps(1e-3);
        // Counted by the same door every copy goes through, across the timed steps and their warm-up.
        var before = kernels.Transfers.Count;
        double step = Time(() => trainer.TrainBatch(batch, 1e-3), steps);
        double bytesPerStep = (double)(kernels.Transfers.Count - before).Bytes / (steps + 2);
        string? stepPath = trainer.StepPath;

        var arch = layout.Architecture;
        long macs = arch.MultiplyAddsPerImage * batch;
        long outputs = arch.Layers.Sum(l => (long)l.Outputs) * batch;
        // The phases launch plainly, one after another, as a step's first batch does.
        var phases = new (string Name, Action Run, double Flop)[]
        {
            // The gather scales each pixel once.
            ("forward", () => trainer.Forward(batch), 2.0 * macs + (double)batch * Architecture.Pixels),
            // Per pixel, the loss gradient's six operations.
            ("loss", () => trainer.Loss(batch), 6.0 * batch * Architecture.Pixels),
            // Weight gradients, input gradients (none for the first layer), one add per bias-gradient term.
            ("backward", () => trainer.Backward(batch), 2.0 * (2 * macs - (long)arch.Layers[0].WeightCount * batch) + outputs),
            ("update", () => trainer.Update(1e-3), 12.0 * layout.Length),
        };
        var times = phases.Select(p => Time(p.Run, Math.Max(1, steps / 2))).ToArray();
        double total = times.Sum();
        var timings = phases.Select((p, i) => new PhaseTiming(p.Name, times[i], p.Flop / times[i] / 1e9, times[i] / total)).ToList();

        double batchesPerEpoch = (double)EpochImages / batch;
        double flopPerEpoch = (double)arch.TrainingFlopsPerImage * EpochImages;
        double? measured = null;
        long? epochBytes = null;
        if (timeEpoch)
        {
            before = kernels.Transfers.Count;
            measured = trainer.TrainEpoch(0).Seconds;
            epochBytes = (kernels.Transfers.Count - before).Bytes;
        }
        return new BenchmarkResult(Accelerators.Name(kernels.Accelerator.AcceleratorType), kernels.Accelerator.Name, kernels.Schedule.Name,
            (int)kernels.Schedule.Matmul, kernels.Schedule.GroupsPerMultiprocessor, batch, steps, step, batch / step, 1 / step, step * batchesPerEpoch, 50 * step * batchesPerEpoch,
            arch.TrainingFlopsPerImage * batch / step / 1e9, flopPerEpoch, timings, bytesPerStep, measured, epochBytes)
        {
            StepPath = stepPath,
        };
    }
}

/// <summary>bench refused to time kernels that do not match the float64 reference on this accelerator.</summary>
public sealed class UnvalidatedKernelsException(IReadOnlyList<SelfTestRow> rows)
    : Exception($"{rows.Count(r => !r.Passed)} of {rows.Count} selftest rows failed; not timing kernels that compute the wrong thing")
{
    public IReadOnlyList<SelfTestRow> Rows { get; } = rows;
}
