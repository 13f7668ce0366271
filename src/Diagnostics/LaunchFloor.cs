using System.Globalization;
using System.Text;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Diagnostics;

/// <summary>One launch of a training step and the least time it can take.</summary>
/// <param name="Phase">forward, loss, backward or update: the step's method that made the launch.</param>
/// <param name="WorkSeconds">The larger of its arithmetic at the peak rate and its bytes at the memory bandwidth.</param>
/// <param name="FloorSeconds">The work floor plus the cost of one launch.</param>
public sealed record LaunchFloorRow(string Phase, KernelLaunch Launch, double WorkSeconds, double FloorSeconds);

/// <summary>Every launch of one training step, sized for <see cref="Device"/>, with its floor.</summary>
public sealed record LaunchFloorTable(DeviceShape Device, string Schedule, int Batch, int Bottleneck, double PeakFlops,
    double Bandwidth, double LaunchSeconds, IReadOnlyList<LaunchFloorRow> Rows)
{
    public double Flop => Rows.Sum(r => r.Launch.Flop);
    public double Bytes => Rows.Sum(r => r.Launch.Bytes);
    public double WorkSeconds => Rows.Sum(r => r.WorkSeconds);
    public double FloorSeconds => Rows.Sum(r => r.FloorSeconds);

    /// <summary>The table as Markdown, one row per launch in the order the step makes them, and a total.</summary>
    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var s = new StringBuilder();
        s.AppendLine(string.Create(c, $"{Device.Name} ({Device.Multiprocessors} SMs), schedule {Schedule}, batch {Batch}, z = {Bottleneck}: " +
            $"floor = max(FLOP / {PeakFlops / 1e12:0.#} TFLOP/s, bytes / {Bandwidth / 1e12:0.#} TB/s) + {LaunchSeconds * 1e6:0.#} µs per launch"));
        s.AppendLine();
        s.AppendLine("| # | phase | kernel | shape | threads (groups × size) | MFLOP | MB | work µs | floor µs |");
        s.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for (int i = 0; i < Rows.Count; i++)
        {
            var (r, l) = (Rows[i], Rows[i].Launch);
            string threads = l.Groups is { } g ? string.Create(c, $"{g:N0} × {l.GroupSize}") : string.Create(c, $"{l.Threads:N0} (auto)");
            s.AppendLine(string.Create(c, $"| {i + 1} | {r.Phase} | {l.Kernel} | {l.Shape} | {threads} | {l.Flop / 1e6:0.##} | {l.Bytes / 1e6:0.###} | {r.WorkSeconds * 1e6:0.##} | {r.FloorSeconds * 1e6:0.##} |"));
        }
        s.AppendLine(string.Create(c, $"| | **step** | **{Rows.Count} launches** | | | **{Flop / 1e6:N0}** | **{Bytes / 1e6:0.#}** | **{WorkSeconds * 1e6:0.#}** | **{FloorSeconds * 1e6:0.#}** |"));
        return s.ToString();
    }
}

/// <summary>
/// Lists the launches of one training step as the trainer makes them, through a recorder on the
/// kernels that does not execute: the grids are sized for any <see cref="DeviceShape"/> (the H200
/// by default) on whatever accelerator is at hand, so the table needs no GPU and is regenerated,
/// never edited, when the step changes.
/// </summary>
public static class LaunchFloor
{
    /// <summary>H200 SXM, fp32 on the CUDA cores (not the tensor cores), by the datasheet.</summary>
    public const double H200Fp32 = 67e12;
    /// <summary>H200 HBM3e bandwidth, by the datasheet.</summary>
    public const double H200Bandwidth = 4.8e12;
    /// <summary>What one launch costs the stream on its own, whatever its work.</summary>
    public const double LaunchOverhead = 3e-6;

    /// <param name="costs">What the floor charges for work and for each launch; the H200's (<see cref="LaunchCosts.H200"/>) when null.</param>
    public static LaunchFloorTable Describe(Accelerator accelerator, Schedule schedule, DeviceShape device, int batch = 2048, int bottleneck = 8,
        LaunchCosts? costs = null)
    {
        var (peakFlops, bandwidth, launchSeconds) = costs ?? LaunchCosts.H200;
        var recorder = new LaunchRecorder { Execute = false };
        using var kernels = new DeviceKernels(accelerator, schedule) { Shape = device, Recorder = recorder };
        var layout = new ParameterLayout(new Architecture(bottleneck));
        var options = new TrainingOptions { BatchSize = batch, Bottleneck = bottleneck, Shuffle = false, Epochs = 1 };
        using var trainer = new DeviceTrainer(kernels, layout, new byte[batch * Architecture.Pixels], batch, options, new float[layout.Length]);
        trainer.PrepareSteps(1e-3);
        var rows = new List<LaunchFloorRow>();
        // The four phases of DeviceTrainer.TrainStep, in its order.
        foreach (var (phase, run) in new (string, Action)[]
        {
            ("forward", () => trainer.Forward(batch)),
            ("loss", () => trainer.Loss(batch)),
            ("backward", () => trainer.Backward(batch)),
            ("update", () => trainer.Update(1e-3)),
        })
        {
            recorder.Clear();
            run();
            foreach (var l in recorder.Launches)
            {
                double work = Math.Max(l.Flop / peakFlops, l.Bytes / bandwidth);
                rows.Add(new LaunchFloorRow(phase, l, work, work + launchSeconds));
            }
        }
        return new LaunchFloorTable(device, schedule.Name, batch, bottleneck, peakFlops, bandwidth, launchSeconds, rows);
    }
}
