using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.Diagnostics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAutoencoder.Cli;

/// <summary>gpuae selftest and gpuae bench: is this machine computing the right thing, and how fast.</summary>
public static class DiagnosticCommands
{
    public static Command SelfTestCommand()
    {
        var accelerator = new Option<string>("--accelerator", "-a")
        {
            Description = "Accelerator to test: all (every one found), cuda, opencl or cpu.",
            DefaultValueFactory = _ => "all",
        }.AcceptOnlyFromAmong("all", "cuda", "opencl", "cpu");
        var precision = CommonOptions.Precision();
        var command = new Command("selftest", "Check every kernel and one training step against the float64 reference; exit 1 on any mismatch.") { accelerator, precision };
        command.SetAction(parse => CommonOptions.Run(parse.GetValue(CommonOptions.Verbose), () =>
        {
            using var context = Accelerators.CreateContext();
            string which = parse.GetValue(accelerator)!;
            var devices = which == "all"
                ? context.Devices.ToList()
                : [Accelerators.Create(context, Enum.GetValues<AcceleratorKind>().Single(k => CommonOptions.Spelling(k) == which)).Device];
            var arithmetic = precision.ValueIn(parse);
            // An accelerator named with -a must run the precision asked for; of all of them, those that can.
            if (which != "all") CommonOptions.RequirePrecision(devices[0], arithmetic);
            var refused = devices.Select(d => CommonOptions.PrecisionRefusal(d, arithmetic)).Where(r => r != null).ToList();
            devices = devices.Where(d => CommonOptions.PrecisionRefusal(d, arithmetic) == null).ToList();
            if (devices.Count == 0) throw new AcceleratorUnavailableException(string.Join("; ", refused));
            foreach (var why in refused) Console.WriteLine($"skipped: {why}");
            int failures = 0;
            foreach (var device in devices)
            {
                using var acc = device.CreateAccelerator(context);
                Console.WriteLine($"{Accelerators.Name(acc.AcceleratorType)}: {acc.Name}");
                Console.WriteLine($"  {"kernel",-34} {"schedule",-12} {"shape",-14} {"max error",10}  verdict");
                foreach (var row in SelfTest.Run(acc, precision: arithmetic))
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {row.Kernel,-34} {row.Schedule,-12} {row.Shape,-14} {row.MaxError,10:E2}  {(row.Passed ? "ok" : "FAIL")}"));
                    if (!row.Passed)
                    {
                        failures++;
                        Console.Write(row.Detail);
                    }
                }
            }
            Console.WriteLine(failures == 0 ? "selftest: all passed" : $"selftest: {failures} FAILED");
            return failures == 0 ? ExitCodes.Ok : ExitCodes.Failure;
        }));
        return command;
    }

    public static Command DevicesCommand()
    {
        var command = new Command("devices", "List the accelerators ILGPU finds on this machine.");
        command.SetAction(parse => CommonOptions.Run(parse.GetValue(CommonOptions.Verbose), () =>
        {
            using var context = Accelerators.CreateContext();
            foreach (var d in context.Devices)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{Accelerators.Name(d.AcceleratorType),-7} {d.Name}: {d.MemorySize / (1 << 20)} MiB, {d.NumMultiprocessors} multiprocessors, " +
                    $"{d.MaxNumThreadsPerGroup} threads per group, warp {d.WarpSize}"));
            return ExitCodes.Ok;
        }));
        return command;
    }

    public static Command BenchCommand()
    {
        var accelerator = CommonOptions.Accelerator();
        var steps = new Option<int>("--steps") { Description = "Timed training steps (after warm-up).", DefaultValueFactory = _ => 20 };
        var batch = new Option<int>("--batch", "-b") { Description = "Images per step.", DefaultValueFactory = _ => 2048 };
        var json = new Option<bool>("--json") { Description = "Print the results as JSON." };
        var epoch = new Option<bool>("--epoch") { Description = "Also train one whole 60,000-image epoch and report its time beside the estimate." };
        var groups = new Option<int?>("--groups-per-sm") { Description = "Tuning: split tiled products along their depth until they give this many groups per multiprocessor." };
        var version = new Option<int?>("--matmul-version") { Description = "Tuning: run this matrix-product version (1 naive, 2 blocked, 3 tiled) instead of the schedule's." };
        var optimize = new Option<int>("--ilgpu-optimization") { Description = "Tuning: ILGPU's optimisation level for the kernels, 0, 1 or 2.", DefaultValueFactory = _ => 1 };
        var peer = new Option<string?>("--peer") { Description = "Also time a peer library on the same products: cublas (cuBLAS SGEMM; CUDA only)." }
            .AcceptOnlyFromAmong("cublas");
        var launches = new Option<bool>("--launches") { Description = "Time nothing: list every launch of one step as sized for an H200 (GPU schedule), with its floor, as Markdown. Needs no GPU." };
        var precision = CommonOptions.Precision();
        var command = new Command("bench", "Time training steps on the full-size problem, and each of their four phases.") { accelerator, steps, batch, json, epoch, groups, version, optimize, peer, precision, launches };
        command.SetAction(parse => CommonOptions.Run(parse.GetValue(CommonOptions.Verbose), () =>
        {
            if (parse.GetValue(steps) < 1) throw new UsageException("--steps: must be at least 1");
            if (parse.GetValue(batch) < 1) throw new UsageException("--batch: must be at least 1");
            var level = parse.GetValue(optimize) switch
            {
                0 => OptimizationLevel.O0,
                1 => OptimizationLevel.O1,
                2 => OptimizationLevel.O2,
                var o => throw new UsageException($"--ilgpu-optimization: {o} is not 0, 1 or 2"),
            };
            var arithmetic = precision.ValueIn(parse);
            if (parse.GetValue(launches))
            {
                // The launches are recorded, not run: the CPU accelerator holds the buffers whatever the machine.
                using var cpuContext = Accelerators.CreateContext();
                using var cpu = Accelerators.Create(cpuContext, AcceleratorKind.Cpu);
                Console.Write(LaunchFloor.Describe(cpu, Schedule.Gpu, DeviceShape.H200, parse.GetValue(batch)).ToMarkdown());
                return ExitCodes.Ok;
            }
            using var context = Accelerators.CreateContext(optimization: level);
            using var acc = Accelerators.Create(context, accelerator.ValueIn(parse));
            if (parse.GetValue(peer) == "cublas" && acc.AcceleratorType != AcceleratorType.Cuda)
                throw new UsageException($"--peer cublas: cuBLAS is unavailable on the {Accelerators.Name(acc.AcceleratorType)} accelerator (it needs CUDA)");
            CommonOptions.RequirePrecision(acc.Device, arithmetic);
            var schedule = Schedule.For(acc);
            if (parse.GetValue(groups) is { } g) schedule = schedule with { GroupsPerMultiprocessor = Math.Max(1, g) };
            if (parse.GetValue(version) is { } v)
            {
                if (v is < 1 or > 3) throw new UsageException($"--matmul-version: {v} is not one of 1, 2, 3");
                schedule = schedule with { Matmul = (MatmulVersion)v };
            }
            using var kernels = new DeviceKernels(acc, schedule, arithmetic);
            if (parse.GetValue(peer) == "cublas")
            {
                var products = CublasPeer.Run(kernels, parse.GetValue(steps), parse.GetValue(batch));
                if (parse.GetValue(json))
                    Console.WriteLine(JsonSerializer.Serialize(products, new JsonSerializerOptions { WriteIndented = true }));
                else
                    PrintProducts(acc.Name, products);
                return ExitCodes.Ok;
            }
            if (!parse.GetValue(json)) Console.Error.WriteLine($"bench: {acc.Name}, schedule {kernels.Schedule.Name}, warming up…");
            if (!parse.GetValue(json)) Console.Error.WriteLine("bench: checking the kernels against the float64 reference first…");
            BenchmarkResult r;
            try
            {
                r = Benchmark.Run(kernels, parse.GetValue(steps), parse.GetValue(batch), timeEpoch: parse.GetValue(epoch));
            }
            catch (UnvalidatedKernelsException e)
            {
                foreach (var row in e.Rows.Where(row => !row.Passed))
                    Console.Error.Write(string.Create(CultureInfo.InvariantCulture,
                        $"  {row.Kernel,-34} {row.Schedule,-12} {row.Shape,-14} {row.MaxError,10:E2}  FAIL\n{row.Detail}"));
                Console.Error.WriteLine($"gpuae: error: bench: {e.Message}");
                return ExitCodes.Failure;
            }
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(r, new JsonSerializerOptions { WriteIndented = true }));
            else
                Print(r);
            return ExitCodes.Ok;
        }));
        return command;
    }

    static void PrintProducts(string device, IReadOnlyList<ProductTiming> products)
    {
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine($"products of one step on {device}: our kernels beside cuBLAS SGEMM (fp32), same buffers");
        Console.WriteLine($"  {"product",-22} {"M×N×K",-16} {"ours ms",9} {"cuBLAS ms",10} {"ours TF/s",10} {"cuBLAS TF/s",12} {"ratio",7} {"max |diff|",11}");
        foreach (var p in products)
            Console.WriteLine(string.Create(c,
                $"  {p.Product,-22} {$"{p.M}×{p.N}×{p.K}",-16} {p.OursMs,9:F4} {p.CublasMs,10:F4} {p.OursTflops,10:F2} {p.CublasTflops,12:F2} {p.OursMs / p.CublasMs,7:F2} {p.MaxAbsDifference,11:E2}"));
        double ours = products.Sum(p => p.OursMs), theirs = products.Sum(p => p.CublasMs);
        Console.WriteLine(string.Create(c, $"  {"all products",-22} {"",-16} {ours,9:F4} {theirs,10:F4} {"",10} {"",12} {ours / theirs,7:F2}"));
    }

    static void Print(BenchmarkResult r)
    {
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(c, $"{r.Accelerator} ({r.Device}), schedule {r.Schedule} (matmul v{r.MatmulVersion}, {r.GroupsPerMultiprocessor} groups/SM), batch {r.Batch}, {r.Steps} steps"));
        Console.WriteLine(string.Create(c, $"  step              {r.SecondsPerStep * 1e3,10:F3} ms   {r.StepsPerSecond:F1} steps/s   {r.SamplesPerSecond:F0} images/s"));
        Console.WriteLine(string.Create(c, $"  achieved          {r.Gflops,10:F1} GFLOP/s ({r.FlopPerEpoch:E3} FLOP per epoch)"));
        Console.WriteLine(string.Create(c, $"  epoch (estimate)  {r.EstimatedEpochSeconds,10:F2} s      50 epochs: {r.Estimated50EpochSeconds:F1} s"));
        if (r.MeasuredEpochSeconds is { } m)
            Console.WriteLine(string.Create(c, $"  epoch (measured)  {m,10:F2} s      estimate off by {(r.EstimatedEpochSeconds / m - 1) * 100:+0.0;-0.0} %"));
        string epochBytes = r.HostDeviceBytesPerEpoch is { } e ? string.Create(c, $", {e:N0} in the measured epoch") : "";
        Console.WriteLine(string.Create(c, $"  host<->device     {r.HostDeviceBytesPerStep,10:F0} bytes per step, counted{epochBytes}"));
        if (r.StepPath != null)
            Console.WriteLine($"  steps ran as      {r.StepPath}");
        Console.WriteLine($"  {"phase",-18} {"ms/step",10} {"GFLOP/s",10} {"share",7}");
        foreach (var p in r.Phases)
            Console.WriteLine(string.Create(c, $"  {p.Phase,-18} {p.SecondsPerStep * 1e3,10:F3} {p.Gflops,10:F1} {p.Share,7:P1}"));
    }
}
