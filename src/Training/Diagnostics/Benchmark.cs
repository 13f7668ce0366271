using System.Diagnostics;
using System.Text.Json.Serialization;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Training.Diagnostics;

/// <summary>Time and arithmetic of one kernel family within a training step.</summary>
public sealed record FamilyTiming(
    [property: JsonPropertyName("family")] string Family,
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
    [property: JsonPropertyName("families")] IReadOnlyList<FamilyTiming> Families,
    [property: JsonPropertyName("host_device_bytes_per_step")] double HostDeviceBytesPerStep,
    [property: JsonPropertyName("measured_epoch_seconds")] double? MeasuredEpochSeconds)
{
    /// <summary>How the graph probe's work ran: "cuda graph", or "plain launches (why)".</summary>
    [JsonPropertyName("graph_path")] public string? GraphPath { get; init; }
    /// <summary>The Adam update (two launches, step scalars read from device memory) on a stream of its own, launched plainly.</summary>
    [JsonPropertyName("graph_probe_plain_seconds")] public double? GraphProbePlainSeconds { get; init; }
    /// <summary>The same work through <see cref="ReplayableWork"/>: a graph replay where <see cref="GraphPath"/> says so.</summary>
    [JsonPropertyName("graph_probe_replay_seconds")] public double? GraphProbeReplaySeconds { get; init; }
}

/// <summary>
/// Times training steps on the full-size problem. Launches are asynchronous, so every timed region
/// starts and ends with a device synchronisation, after warm-up steps that absorb kernel compilation.
/// </summary>
public static class Benchmark
{
    /// <summary>MNIST's training set: the epoch the estimates are for.</summary>
    public const int EpochImages = 60_000;

    public static BenchmarkResult Run(DeviceKernels kernels, int steps, int batch = 2048, int bottleneck = 8, bool timeEpoch = false)
    {
        var layout = new ParameterLayout(new Architecture(bottleneck));
        var rng = new Random(1);
        // Random pixels cost the kernels what real digits cost them; a few batches' worth keeps the upload short.
        int count = timeEpoch ? EpochImages : batch * 4;
        var images = new byte[count * Architecture.Pixels];
        rng.NextBytes(images);
        var options = new TrainingOptions { BatchSize = batch, Bottleneck = bottleneck, Shuffle = false, Epochs = 1 };
        using var trainer = new DeviceTrainer(kernels, layout, images, count, options, layout.Initialize(1));
        using var loss = kernels.Accelerator.Allocate1D<float>(1);

        long timedBytes = 0;
        double Time(KernelFamilies families, int n)
        {
            for (int i = 0; i < 2; i++) trainer.RunStep(0, batch, loss.View, 1e-3, families);
            kernels.Accelerator.Synchronize();
            // Copies made while warming up (the first upload of Adam's step table) are not the loop's.
            long bytesBefore = trainer.BytesToDevice + trainer.BytesFromDevice;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < n; i++) trainer.RunStep((i % (count / batch)) * batch, batch, loss.View, 1e-3, families);
            kernels.Accelerator.Synchronize();
            timedBytes = trainer.BytesToDevice + trainer.BytesFromDevice - bytesBefore;
            return clock.Elapsed.TotalSeconds / n;
        }

        double step = Time(KernelFamilies.All, steps);
        double bytesPerStep = (double)timedBytes / steps;

        var arch = layout.Architecture;
        long macs = arch.MultiplyAddsPerImage * batch;
        long outputs = arch.Layers.Sum(l => (long)l.Outputs) * batch;
        var families = new (KernelFamilies Family, string Name, double Flop)[]
        {
            (KernelFamilies.ForwardMatmul, "forward matmuls", 2.0 * macs),
            (KernelFamilies.BackwardMatmul, "backward matmuls", 2.0 * (2 * macs - (long)arch.Layers[0].WeightCount * batch)),
            // Per pixel: the gather's scale and the loss gradient's six operations; one add per bias-gradient term.
            (KernelFamilies.Elementwise, "elementwise", 7.0 * batch * Architecture.Pixels + outputs),
            (KernelFamilies.Adam, "adam", 12.0 * layout.Length),
        };
        var times = families.Select(f => Time(f.Family, Math.Max(1, steps / 2))).ToArray();
        double total = times.Sum();
        var timings = families.Select((f, i) => new FamilyTiming(f.Name, times[i], f.Flop / times[i] / 1e9, times[i] / total)).ToList();

        double batchesPerEpoch = (double)EpochImages / batch;
        double flopPerEpoch = (double)arch.TrainingFlopsPerImage * EpochImages;
        double? measured = null;
        if (timeEpoch) measured = trainer.TrainEpoch(0).Seconds;
        var probe = GraphProbe(kernels.Accelerator, layout.Length, steps);
        return new BenchmarkResult(Accelerators.Name(kernels.Accelerator.AcceleratorType), kernels.Accelerator.Name, kernels.Schedule.Name,
            (int)kernels.Schedule.Matmul, kernels.Schedule.GroupsPerMultiprocessor, batch, steps, step, batch / step, 1 / step, step * batchesPerEpoch, 50 * step * batchesPerEpoch,
            arch.TrainingFlopsPerImage * batch / step / 1e9, flopPerEpoch, timings, bytesPerStep, measured)
        {
            GraphPath = probe.Path,
            GraphProbePlainSeconds = probe.Plain,
            GraphProbeReplaySeconds = probe.Replay,
        };
    }

    /// <summary>
    /// The graph path on the one piece of a step that already runs from device-side arguments: the
    /// Adam update over the model's parameters, on a stream from CreateStream(), timed launched
    /// plainly and then through <see cref="ReplayableWork"/> (a CUDA graph where the driver allows).
    /// </summary>
    static (string Path, double Plain, double Replay) GraphProbe(Accelerator accelerator, int count, int steps)
    {
        using var stream = accelerator.CreateStream();
        using var table = new AdamStepTable(accelerator, 2 * steps + 4, 0.9, 0.999, 1e-8);
        using var p = accelerator.Allocate1D<float>(count);
        using var g = accelerator.Allocate1D<float>(count);
        using var m = accelerator.Allocate1D<float>(count);
        using var v = accelerator.Allocate1D<float>(count);
        foreach (var b in new[] { p, g, m, v }) b.View.MemSetToZero(stream);
        table.Prepare(1, 1e-3, stream);
        void Launch() => table.Launch(p.View, g.View, m.View, v.View, count, stream);
        Launch();
        table.Advanced();
        stream.Synchronize();
        double Time(Action run)
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++)
            {
                run();
                table.Advanced();
            }
            stream.Synchronize();
            return clock.Elapsed.TotalSeconds / steps;
        }
        double plain = Time(Launch);
        using var work = new ReplayableWork(stream, Launch);
        return (work.Path, plain, Time(work.Run));
    }
}
