using GpuAutoencoder.Training.Sweep;

namespace GpuAutoencoder.Cli;

/// <summary>gpuae sweep --merge: the summaries of a sharded sweep's finished shards joined into one sweep's.</summary>
public static class SweepMerge
{
    /// <summary>Joins finished shards: they must be one grid, one set of settings and data, every shard once, every run once.</summary>
    public static int Run(IReadOnlyList<string> dirs, string outDir)
    {
        if (dirs.Count == 0) throw new UsageException("--merge: name the shards' folders");
        var shards = new List<(string Path, ShardSummary Shard)>();
        foreach (var dir in dirs.Distinct())
        {
            if (!Directory.Exists(dir)) throw new UsageException($"--merge: folder {dir} does not exist");
            var files = Directory.EnumerateFiles(dir, ShardSummary.Pattern).Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) throw new UsageException($"--merge: {dir} holds no {ShardSummary.Pattern} (was it swept with --shard?)");
            shards.AddRange(files.Select(f => (f, SweepFolder.Read(() => ShardSummary.Load(f), "--merge"))));
        }
        var (firstPath, first) = shards[0];
        foreach (var (path, s) in shards.Skip(1))
        {
            if (OptionNames.Contradiction(s.Settings, first.Settings) is { } c)
                throw new UsageException($"--merge: {path} was swept with {c.Option} {c.Value}, but {firstPath} with {c.Earlier}; shards of one sweep share their settings and data set");
            if (!s.Grid.SameAs(first.Grid))
                throw new UsageException($"--merge: {path} and {firstPath} belong to different grids");
            if (s.Shard.Count != first.Shard.Count)
                throw new UsageException($"--merge: {path} is a shard of {s.Shard.Count} but {firstPath} one of {first.Shard.Count}");
        }
        int count = first.Shard.Count;
        var byIndex = shards.GroupBy(s => s.Shard.Shard.Index).ToDictionary(g => g.Key, g => g.ToList());
        if (byIndex.Values.FirstOrDefault(g => g.Count > 1) is { } twice)
            throw new UsageException($"--merge: shard {twice[0].Shard.Shard} is given twice ({string.Join(", ", twice.Select(t => t.Path))})");
        var missing = Enumerable.Range(1, count).Where(i => !byIndex.ContainsKey(i)).ToList();
        if (missing.Count > 0) throw new UsageException($"--merge: shard {string.Join(", ", missing.Select(i => $"{i}/{count}"))} is missing");
        if (shards.FirstOrDefault(s => !s.Shard.Complete) is { Path: not null } unfinished)
            throw new UsageException($"--merge: {unfinished.Path} is not finished ({unfinished.Shard.Runs.Count} runs done); run that shard again to complete it");

        var rows = shards.SelectMany(s => s.Shard.Runs).ToList();
        var expected = first.Grid.Runs.Select(r => r.Name).ToHashSet();
        if (rows.GroupBy(r => r.Run).FirstOrDefault(g => g.Count() > 1) is { } dup)
            throw new UsageException($"--merge: run {dup.Key} appears in more than one shard");
        var stray = rows.Select(r => r.Run).Except(expected).ToList();
        var absent = expected.Except(rows.Select(r => r.Run)).ToList();
        if (stray.Count > 0 || absent.Count > 0)
            throw new UsageException($"--merge: the shards' runs are not the grid's ({(absent.Count > 0 ? $"missing {absent[0]}" : $"extra {stray[0]}")})");

        Directory.CreateDirectory(outDir);
        SweepFolder.WriteSummary(outDir, new SweepSummary(first.Settings, SweepSummary.Ordered(rows)));
        Console.WriteLine($"merged {count} shards, {rows.Count} runs: wrote {Path.Combine(outDir, SweepSummary.JsonFile)}, {SweepSummary.CsvFile}, {SweepSummary.FigureFile}");
        return ExitCodes.Ok;
    }
}
