using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using GpuAutoencoder.Cli;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Sweep;

namespace GpuAutoencoder.Tests;

/// <summary>
/// gpuae sweep on the CPU accelerator, on a small grid (bottlenecks 2 and 4 × seeds 0 and 1, 256 images,
/// 2 epochs): every run is the one gpuae train makes, an interrupted sweep resumes, and shards merge
/// into the unsharded sweep. The unsharded sweep is made once and shared.
/// </summary>
[NonParallelizable]
public class SweepTests
{
    const int Images = 256, TestImages = 100;
    static readonly string[] Grid = ["--bottleneck", "2,4", "--seeds", "0-1"];
    static readonly (int Z, int Seed)[] Configurations = [(2, 0), (2, 1), (4, 0), (4, 1)];
    string _dir = "", _data = "", _reference = "";

    string[] Common => ["--accelerator", "cpu", "--data", _data, "--limit", $"{Images}", "--batch", "64", "--epochs", "2"];
    string[] Sweep(string outDir, params string[] extra) => ["sweep", .. Common, .. Grid, "--out", outDir, .. extra];

    [OneTimeSetUp]
    public void MakeReferenceSweep()
    {
        _dir = TestPaths.TempDir("sweep");
        // A train split larger than --limit and a small test split, so the rows measure a held-out set.
        _data = TestData.Folder(Path.Combine(_dir, "data"), 2 * Images);
        File.WriteAllBytes(Path.Combine(_data, "t10k-images-idx3-ubyte"), TestData.Images(GpuAutoencoder.Tests.TestImages.Synthetic(TestImages, 77), TestImages));
        File.WriteAllBytes(Path.Combine(_data, "t10k-labels-idx1-ubyte"), TestData.Labels(TestImages));
        _reference = Path.Combine(_dir, "reference");
        Ok(Sweep(_reference));
    }

    [OneTimeTearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    static Gpuae.Result Ok(params string[] args)
    {
        var r = Gpuae.Run(args);
        Assert.That(r.Exit, Is.EqualTo(ExitCodes.Ok), r.ToString());
        return r;
    }

    static string RunName(int z, int seed) => $"z{z}-seed{seed}-b64";

    /// <summary>sweep.json with the timing fields (names containing "seconds") removed: what must agree across machines.</summary>
    static string WithoutTimings(string sweepJson)
    {
        var root = JsonNode.Parse(File.ReadAllText(sweepJson))!;
        foreach (var row in root["runs"]!.AsArray())
            foreach (var key in row!.AsObject().Select(p => p.Key).Where(k => k.Contains("seconds")).ToList())
                row.AsObject().Remove(key);
        return root.ToJsonString();
    }

    [Test]
    public void EveryRunIsByteForByteTheRunTrainMakes()
    {
        foreach (var (z, seed) in Configurations)
        {
            var single = Path.Combine(_dir, $"train-z{z}-seed{seed}");
            Ok(["train", .. Common, "--bottleneck", $"{z}", "--seed", $"{seed}", "--out", single]);
            var run = Path.Combine(_reference, RunName(z, seed));
            Assert.That(File.ReadAllBytes(Path.Combine(run, RunFolder.Model)), Is.EqualTo(File.ReadAllBytes(Path.Combine(single, RunFolder.Model))),
                $"z={z} seed={seed}: the sweep's weights differ from train's");
            // The run folder holds exactly what train writes, so every inspection command works on it.
            Assert.That(Directory.EnumerateFiles(run).Select(Path.GetFileName).Order(), Is.EqualTo(Directory.EnumerateFiles(single).Select(Path.GetFileName).Order()));
            var metrics = RunMetrics.Load(Path.Combine(run, RunFolder.Metrics));
            Assert.That(metrics.Epochs.Select(e => e.Loss), Is.EqualTo(RunMetrics.Load(Path.Combine(single, RunFolder.Metrics)).Epochs.Select(e => e.Loss)));
            Ok("evaluate", "--model", Path.Combine(run, RunFolder.Model), "--data", _data, "--accelerator", "cpu");
        }
    }

    [Test]
    public void SummaryHasOneRowPerRunWithoutPathsAndAFigure()
    {
        var summary = SweepSummary.Load(Path.Combine(_reference, SweepSummary.JsonFile));
        Assert.That(summary.Runs.Select(r => (r.Bottleneck, (int)r.Seed)), Is.EquivalentTo(Configurations));
        Assert.That(summary.Settings.Images, Is.EqualTo(Images));
        foreach (var row in summary.Runs)
        {
            var metrics = RunMetrics.Load(Path.Combine(_reference, row.Run, RunFolder.Metrics));
            Assert.That(row.FinalTrainLoss, Is.EqualTo(metrics.Epochs[^1].Loss));
            // The row's MSE (host sum in double) and train's last-epoch test MSE (device sum in float) measure the same images.
            Assert.That(row.TestMse, Is.EqualTo(metrics.Epochs[^1].TestMse!.Value).Within(1e-4).Percent);
            Assert.That((row.EvalSplit, row.EvalImages), Is.EqualTo(("test", TestImages)));
            Assert.That(row.ActiveUnits + row.DeadUnits.Count, Is.EqualTo(row.Bottleneck));
        }
        string json = File.ReadAllText(Path.Combine(_reference, SweepSummary.JsonFile));
        string csv = File.ReadAllText(Path.Combine(_reference, SweepSummary.CsvFile));
        foreach (var text in new[] { json, csv })
            Assert.That(text, Does.Not.Contain(_dir).And.Not.Contain("shard"));
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1 + Configurations.Length));
        Assert.That(lines[0].Split(',').Where(c => c.Contains("seconds")), Is.Not.Empty);
        var png = File.ReadAllBytes(Path.Combine(_reference, SweepSummary.FigureFile));
        Assert.That(png.Take(8), Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }));
    }

    [Test]
    public void ShardsAsSeparateProcessesMergeIntoTheUnshardedSweep()
    {
        string a = Path.Combine(_dir, "shard-a"), b = Path.Combine(_dir, "shard-b"), merged = Path.Combine(_dir, "merged");
        using var first = Gpuae.Start(Sweep(a, "--shard", "1/2"));
        using var second = Gpuae.Start(Sweep(b, "--shard", "2/2"));
        var outputs = new[] { first, second }.Select(p => (Out: p.StandardOutput.ReadToEndAsync(), Err: p.StandardError.ReadToEndAsync())).ToList();
        foreach (var (p, o) in new[] { first, second }.Zip(outputs))
        {
            Assert.That(p.WaitForExit(600_000), "a shard finishes");
            Assert.That(p.ExitCode, Is.EqualTo(ExitCodes.Ok), $"{o.Out.Result}\n{o.Err.Result}");
        }
        Assert.That(File.Exists(Path.Combine(a, "shard-1-of-2.json")) && File.Exists(Path.Combine(b, "shard-2-of-2.json")));
        Assert.That(File.Exists(Path.Combine(a, SweepSummary.JsonFile)) || File.Exists(Path.Combine(b, SweepSummary.JsonFile)), Is.False,
            "shards leave sweep.json to the merge");

        // Every configuration ran exactly once, in one shard or the other.
        static IEnumerable<string> Runs(string dir) => Directory.EnumerateDirectories(dir).Select(Path.GetFileName)!;
        var ran = Runs(a).Concat(Runs(b)).ToList();
        Assert.That(ran, Is.EquivalentTo(Configurations.Select(c => RunName(c.Z, c.Seed))), "each configuration once");
        Assert.That(Runs(a).ToList(), Has.Count.EqualTo(2));

        Ok("sweep", "--merge", a, b, "--out", merged);
        Assert.That(WithoutTimings(Path.Combine(merged, SweepSummary.JsonFile)), Is.EqualTo(WithoutTimings(Path.Combine(_reference, SweepSummary.JsonFile))));
        foreach (var run in ran)
        {
            var shardRun = Path.Combine(Directory.Exists(Path.Combine(a, run)) ? a : b, run, RunFolder.Model);
            Assert.That(File.ReadAllBytes(shardRun), Is.EqualTo(File.ReadAllBytes(Path.Combine(_reference, run, RunFolder.Model))), run);
        }
        Assert.That(File.Exists(Path.Combine(merged, SweepSummary.CsvFile)) && File.Exists(Path.Combine(merged, SweepSummary.FigureFile)));

        // Only with every shard: one alone is refused, one line, nothing written.
        var alone = Path.Combine(_dir, "merged-alone");
        var r = Gpuae.Run("sweep", "--merge", a, "--out", alone);
        Assert.That((r.Exit, r.ErrLines.Length), Is.EqualTo((ExitCodes.BadInput, 1)), r.ToString());
        Assert.That(r.Err, Does.Contain("--merge").And.Contain("2/2"));
        Assert.That(Directory.Exists(alone), Is.False);
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "sends SIGINT")]
    public void InterruptedSweepCheckpointsAndTheSameCommandFinishesIt()
    {
        var dir = Path.Combine(_dir, "interrupted");
        using var child = Gpuae.Start(Sweep(dir));
        var stderr = child.StandardError.ReadToEndAsync();
        var stdout = new StringBuilder();
        // Interrupt once the first run is done, so one run is finished and the next is in flight.
        while (child.StandardOutput.ReadLine() is { } line)
        {
            stdout.AppendLine(line);
            if (line.StartsWith("run ", StringComparison.Ordinal)) break;
        }
        Gpuae.Signal(child, 2);
        stdout.Append(child.StandardOutput.ReadToEnd());
        Assert.That(child.WaitForExit(120_000), "the sweep exits soon after Ctrl-C");
        var report = $"stdout:\n{stdout}\nstderr:\n{stderr.Result}";
        Assert.That(child.ExitCode, Is.EqualTo(ExitCodes.Interrupted), report);
        Assert.That(stderr.Result, Does.Contain("run the same command again"), report);
        var finished = Configurations.Select(c => RunName(c.Z, c.Seed)).Where(n => File.Exists(Path.Combine(dir, n, RunFolder.Model))).ToList();
        var checkpointed = Configurations.Select(c => RunName(c.Z, c.Seed))
            .Where(n => !finished.Contains(n) && File.Exists(Path.Combine(dir, n, Checkpoint.FileName))).ToList();
        Assert.That(finished, Has.Count.GreaterThanOrEqualTo(1).And.Count.LessThan(Configurations.Length), report);
        // The signal lands either inside a run, which is then checkpointed, or between two runs, before
        // the next one's first batch, which then is never started; both must resume to the same end.
        bool inFlight = !stderr.Result.Contains("none in flight");
        Assert.That(checkpointed, Has.Count.EqualTo(inFlight ? 1 : 0), "the run in flight, and only it, was checkpointed\n" + report);
        Assert.That(Directory.EnumerateDirectories(dir).Count(), Is.EqualTo(finished.Count + checkpointed.Count), "no run folder but the finished and the checkpointed\n" + report);

        var again = Ok(Sweep(dir));
        Assert.That(again.Out, Does.Contain($"{finished.Count} already finished").And.Contain($"{checkpointed.Count} resumed"), again.ToString());
        foreach (var (z, seed) in Configurations)
            Assert.That(File.ReadAllBytes(Path.Combine(dir, RunName(z, seed), RunFolder.Model)),
                Is.EqualTo(File.ReadAllBytes(Path.Combine(_reference, RunName(z, seed), RunFolder.Model))), $"z={z} seed={seed}");
        Assert.That(WithoutTimings(Path.Combine(dir, SweepSummary.JsonFile)), Is.EqualTo(WithoutTimings(Path.Combine(_reference, SweepSummary.JsonFile))));

        // Once more: nothing left to train, nothing retrained.
        var model = Path.Combine(dir, RunName(2, 0), RunFolder.Model);
        var written = File.GetLastWriteTimeUtc(model);
        Assert.That(Ok(Sweep(dir)).Out, Does.Contain("4 already finished, 0 to train"));
        Assert.That(File.GetLastWriteTimeUtc(model), Is.EqualTo(written));

        // A contradicting fixed option is refused with one line and changes nothing.
        var summary = File.ReadAllBytes(Path.Combine(dir, SweepSummary.JsonFile));
        var refused = Gpuae.Run(["sweep", "--accelerator", "cpu", "--data", _data, "--limit", $"{Images}", "--batch", "64", "--epochs", "3", .. Grid, "--out", dir]);
        Assert.That((refused.Exit, refused.ErrLines.Length), Is.EqualTo((ExitCodes.BadInput, 1)), refused.ToString());
        Assert.That(refused.Err, Does.StartWith("gpuae: --epochs: 3 contradicts"));
        Assert.That(File.ReadAllBytes(Path.Combine(dir, SweepSummary.JsonFile)), Is.EqualTo(summary));

        // A grown grid adds its new run and keeps the old ones.
        var grown = Ok(["sweep", .. Common, "--bottleneck", "2", "--seeds", "0-2", "--out", dir]);
        Assert.That(grown.Out, Does.Contain("2 already finished, 1 to train"), grown.ToString());
        var rows = SweepSummary.Load(Path.Combine(dir, SweepSummary.JsonFile)).Runs.Select(r => r.Run);
        Assert.That(rows, Is.EquivalentTo(Configurations.Select(c => RunName(c.Z, c.Seed)).Append(RunName(2, 2))));
    }

    [TestCase("--bottleneck", "", "--bottleneck")]
    [TestCase("--seeds", ",", "--seeds")]
    [TestCase("--batch", "64,64", "--batch")]
    [TestCase("--seeds", "0-2,1", "--seeds")]
    [TestCase("--lr", "1e-3,0.001", "--lr")]
    [TestCase("--bottleneck", "0,2", "--bottleneck")]
    [TestCase("--shard", "0/2", "--shard")]
    [TestCase("--shard", "3/2", "--shard")]
    [TestCase("--shard", "a/b", "--shard")]
    [TestCase("--lr", "0,1e-3", "--lr")]
    [TestCase("--seeds", "4-2", "--seeds")]
    [TestCase("--gamma", "0", "--gamma")]
    public void BadInputExits2WithOneLineAndLeavesNothing(string option, string value, string named)
    {
        var outDir = Path.Combine(_dir, "bad-" + Guid.NewGuid().ToString("N"));
        var lists = new Dictionary<string, string> { ["--bottleneck"] = "2,4", ["--seeds"] = "0-1" };
        string[] extra = [option, value];
        if (lists.ContainsKey(option)) (lists[option], extra) = (value, []);
        string[] args = ["sweep", "--accelerator", "cpu", "--data", _data, "--limit", $"{Images}", "--epochs", "1", "--out", outDir,
            .. lists.SelectMany(l => new[] { l.Key, l.Value }), .. extra];
        var r = Gpuae.Run(args);
        Assert.That((r.Exit, r.ErrLines.Length), Is.EqualTo((ExitCodes.BadInput, 1)), r.ToString());
        Assert.That(r.Err, Does.StartWith($"gpuae: {named}"), r.ToString());
        Assert.That(Directory.Exists(outDir), Is.False, "nothing left behind");
    }

    [TestCase("grid")]
    [TestCase("data")]
    public void MergeRefusesShardsOfDifferentSweeps(string difference)
    {
        var settings = new SweepSettings(2, 0.95, true, Images, new string('a', 64));
        var grid = new SweepGrid([2, 4], [0, 1], [64], [1e-3]);
        string one = Path.Combine(_dir, $"m1-{difference}"), two = Path.Combine(_dir, $"m2-{difference}"), outDir = Path.Combine(_dir, $"m-out-{difference}");
        Directory.CreateDirectory(one);
        Directory.CreateDirectory(two);
        new ShardSummary(settings, grid, new Shard(1, 2), true, []).Save(Path.Combine(one, "shard-1-of-2.json"));
        var other = difference == "grid"
            ? new ShardSummary(settings, grid with { Bottlenecks = [2, 8] }, new Shard(2, 2), true, [])
            : new ShardSummary(settings with { DatasetSha256 = new string('b', 64) }, grid, new Shard(2, 2), true, []);
        other.Save(Path.Combine(two, "shard-2-of-2.json"));

        var r = Gpuae.Run("sweep", "--merge", one, two, "--out", outDir);
        Assert.That((r.Exit, r.ErrLines.Length), Is.EqualTo((ExitCodes.BadInput, 1)), r.ToString());
        Assert.That(r.Err, Does.StartWith("gpuae: --merge:").And.Contain(difference == "grid" ? "different grids" : "--data"));
        Assert.That(Directory.Exists(outDir), Is.False);
    }

    [Test]
    public void ShardsPartitionTheGridWhateverTheOrderOfItsLists()
    {
        var grid = new SweepGrid([32, 2, 8], [4, 0, 1, 2, 3], [256, 2048], [3e-3, 1e-3]);
        var shuffled = new SweepGrid([8, 32, 2], [0, 1, 2, 3, 4], [2048, 256], [1e-3, 3e-3]);
        Assert.That(grid.Runs, Has.Count.EqualTo(3 * 5 * 2 * 2));
        foreach (int n in new[] { 1, 3, 7, 60, 61 })
        {
            var shards = Enumerable.Range(1, n).Select(i => new Shard(i, n).Select(grid.Runs)).ToList();
            Assert.That(shards.SelectMany(s => s), Is.EquivalentTo(grid.Runs), $"{n} shards cover the grid once");
            Assert.That(shards.Max(s => s.Count) - shards.Min(s => s.Count), Is.LessThanOrEqualTo(1), $"{n} shards are even");
            for (int i = 1; i <= n; i++)
                Assert.That(new Shard(i, n).Select(shuffled.Runs), Is.EqualTo(shards[i - 1]), $"shard {i}/{n} does not depend on list order");
        }
        Assert.That(grid.Runs.Select(r => r.Name).Distinct().Count(), Is.EqualTo(grid.Runs.Count), "run folders are distinct");
        Assert.That(new SweepRun(8, 0, 2048, 1e-3).Name, Is.EqualTo("z8-seed0"));
        Assert.That(new SweepRun(8, 3, 256, 3e-3).Name, Is.EqualTo("z8-seed3-b256-lr0.003"));
    }
}
