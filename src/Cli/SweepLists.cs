using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using GpuAutoencoder.Training.Sweep;

namespace GpuAutoencoder.Cli;

/// <summary>
/// The list-valued options of gpuae sweep, parsed by System.CommandLine itself: a bad list is a parse
/// error, one line naming its option and exit 2, like every other malformed option.
/// </summary>
public static class SweepLists
{
    public static Option<IReadOnlyList<int>> Sizes(string name, string alias, string description, int defaultValue) =>
        List(name, [alias], description, [defaultValue], text => ParseList<int>(text, name, ParseInt, v => v >= 1 ? null : $"must be at least 1, got {v}"));

    public static Option<IReadOnlyList<double>> LearningRates(string description, double defaultValue) =>
        List("--lr", [], description, [defaultValue], text => ParseList<double>(text, "--lr", ParseDouble,
            v => double.IsFinite(v) && v > 0 ? null : $"must be a finite number above 0, got {v}"));

    public static Option<IReadOnlyList<ulong>> Seeds(string description, ulong defaultValue) =>
        List("--seeds", [], description, [defaultValue], text => ParseSeeds(text, "--seeds"));

    public static Option<Shard?> Shard(string description) => new("--shard")
    {
        Description = description,
        CustomParser = r => Parse(r, ParseShard),
    };

    static Option<IReadOnlyList<T>> List<T>(string name, string[] aliases, string description, IReadOnlyList<T> defaultValue,
        Func<string, IReadOnlyList<T>> parse) => new(name, aliases)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r => Parse(r, parse),
        // One token holds the whole list: --seeds 0-4, not --seeds 0 1 2 3 4.
        Arity = ArgumentArity.ExactlyOne,
    };

    /// <summary>A parser's <see cref="UsageException"/> becomes the parse error of the option it names.</summary>
    static T? Parse<T>(ArgumentResult result, Func<string, T> parse)
    {
        try { return parse(result.Tokens.Count == 0 ? "" : result.Tokens[^1].Value); }
        catch (UsageException e)
        {
            result.AddError(e.Message);
            return default;
        }
    }

    static bool ParseInt(string s, out int v) => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out v);
    static bool ParseDouble(string s, out double v) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v);
    delegate bool Parser<T>(string s, out T value);

    /// <summary>A comma-separated list: not empty, every item valid, no value twice.</summary>
    static IReadOnlyList<T> ParseList<T>(string text, string option, Parser<T> parse, Func<T, string?> check) where T : notnull
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries);
        if (items.All(i => i.Length == 0)) throw new UsageException($"{option}: the list is empty; give at least one value");
        var values = new List<T>();
        foreach (var item in items)
        {
            if (item.Length == 0) throw new UsageException($"{option}: empty item in '{text}'");
            if (!parse(item, out var v)) throw new UsageException($"{option}: '{item}' is not a valid number");
            if (check(v) is { } problem) throw new UsageException($"{option}: {problem}");
            if (values.Contains(v)) throw new UsageException($"{option}: {item} is listed twice");
            values.Add(v);
        }
        return values;
    }

    /// <summary>Seeds as a list of values and inclusive ranges: 0-4, 0,1,7, or 0-2,9.</summary>
    static IReadOnlyList<ulong> ParseSeeds(string text, string option)
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries);
        if (items.All(i => i.Length == 0)) throw new UsageException($"{option}: the list is empty; give at least one seed");
        var seeds = new List<ulong>();
        foreach (var item in items)
        {
            if (item.Length == 0) throw new UsageException($"{option}: empty item in '{text}'");
            var ends = item.Split('-', StringSplitOptions.TrimEntries);
            static bool Seed(string s, out ulong v) => ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
            if (ends.Length > 2 || !Seed(ends[0], out var from) || !Seed(ends[^1], out var to))
                throw new UsageException($"{option}: '{item}' is neither a seed nor a range like 0-4");
            if (to < from) throw new UsageException($"{option}: the range {item} runs backwards");
            if (to - from >= 100_000) throw new UsageException($"{option}: the range {item} holds more than 100000 seeds");
            for (ulong s = from; ; s++)
            {
                if (seeds.Contains(s)) throw new UsageException($"{option}: seed {s} is listed twice");
                seeds.Add(s);
                if (s == to) break;
            }
        }
        return seeds;
    }

    static Shard ParseShard(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2 || !ParseInt(parts[0], out int i) || !ParseInt(parts[1], out int n))
            throw new UsageException($"--shard: expected i/N such as 1/4, got '{text}'");
        if (n < 1 || i < 1 || i > n)
            throw new UsageException($"--shard: {text} is not a shard: i counts from 1 to N (1/{Math.Max(n, 1)} … {Math.Max(n, 1)}/{Math.Max(n, 1)})");
        return new Shard(i, n);
    }
}
