using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GpuAutoencoder.Tests;

/// <summary>A named byte range of a seed file: truncation lands in each in turn.</summary>
public readonly record struct Region(string Name, int Start, int End);

/// <summary>One mutated input: either byte patches on the seed (overwrites, then a cut, then appended bytes) or a whole new file.</summary>
public sealed record Mutation(string What, (int Offset, byte Value)[] Patches, int Length, byte[] Appended, ReadOnlyMemory<byte>? Replacement = null)
{
    public static Mutation Whole(string what, ReadOnlyMemory<byte> file) => new(what, [], file.Length, [], file);
}

/// <summary>
/// A reader under fuzz: a valid seed file, how to load bytes, how to summarise what loaded (names, shapes,
/// counts: everything a flipped value byte must leave alone), and the typed errors that count as a refusal.
/// </summary>
public sealed class FuzzTarget
{
    public required string Reader { get; init; }
    public required byte[] Seed { get; init; }
    public required Func<ReadOnlyMemory<byte>, object> Load { get; init; }
    public required Func<object, string> Structure { get; init; }
    public required Type[] Refusals { get; init; }
    /// <summary>Bytes [0, HeaderEnd) are the format's header: overwrites land there, and half the bit flips.</summary>
    public required int HeaderEnd { get; init; }
    public required Region[] Regions { get; init; }
    /// <summary>Length and offset fields set to the interesting values, and (for JSON) headers of the wrong shape.</summary>
    public Func<Random, Mutation>[] Structured { get; init; } = [];
    /// <summary>The share of bit flips that land anywhere in the file rather than in its header. Outside the header a
    /// checkpoint has one path (its checksum), and each such case hashes megabytes, so it samples that path less.</summary>
    public double AnywhereFlips { get; init; } = 0.5;
    /// <summary>Bytes a case may allocate for an input of n bytes: enough for any honest load, far below what a length
    /// field of 2^31 or more would ask for if it were believed before being checked against the file.</summary>
    public Func<long, long> AllocationLimit { get; init; } = n => 16 * n + (1 << 20);
}

public sealed record FuzzOutcome(int Cases, int Loaded, int Refused, IReadOnlyList<string> Failures, IReadOnlyDictionary<string, (int Loaded, int Refused)> ByKind);

/// <summary>
/// The deterministic mutation fuzzer of issue 13. Case i of a run draws its mutation from Random(seed, i), so a
/// failure names the seed and case that reproduce it. Every case must end in one of two ways: the reader loads a
/// file with the seed's structure, or it throws one of its typed refusals, with a one-line message. Any other
/// exception, an allocation beyond <see cref="FuzzTarget.AllocationLimit"/>, or a case still running after
/// <see cref="HangSeconds"/> (a hang detector, not a speed check) is a failure.
/// </summary>
public static class Fuzzer
{
    public const int DefaultCases = 2000, DefaultSeed = 20261129, HangSeconds = 30;

    /// <summary>GPUAE_FUZZ_CASES raises the number of cases per reader; GPUAE_FUZZ_SEED changes the run's seed.</summary>
    public static int Cases => int.TryParse(Environment.GetEnvironmentVariable("GPUAE_FUZZ_CASES"), out var n) && n > 0 ? n : DefaultCases;
    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("GPUAE_FUZZ_SEED"), out var s) ? s : DefaultSeed;

    /// <summary>The values issue 13 asks every length and offset field to be set to.</summary>
    public static readonly ulong[] LengthValues = [0, 1, int.MaxValue, uint.MaxValue, long.MaxValue];

    static readonly byte[] Interesting = [0x00, 0xff, 0x7f, 0x80, 0x01, (byte)'{', (byte)'}', (byte)'[', (byte)']', (byte)'"',
        (byte)',', (byte)':', (byte)'0', (byte)'9', (byte)'-', (byte)' ', (byte)'\\', (byte)'e', (byte)'n'];

    public static FuzzOutcome Run(FuzzTarget t, int cases, int seed)
    {
        var expected = t.Structure(t.Load(t.Seed));
        // Patched in place and restored after each case: copying a checkpoint-sized seed per case would cost more than the case.
        var work = new byte[2 * t.Seed.Length + 256];
        t.Seed.CopyTo(work, 0);
        int loaded = 0, refused = 0;
        var failures = new List<string>();
        var byKind = new Dictionary<string, (int Loaded, int Refused)>();
        for (int i = 0; i < cases; i++)
        {
            var rng = new Random(unchecked(seed * 1_000_003 + i));
            var m = Mutate(t, rng);
            ReadOnlyMemory<byte> input;
            if (m.Replacement is { } whole) input = whole;
            else
            {
                foreach (var (offset, value) in m.Patches) work[offset] = value;
                m.Appended.CopyTo(work, m.Length);
                input = work.AsMemory(0, m.Length + m.Appended.Length);
            }
            string where = $"{t.Reader}, seed {seed}, case {i}: {m.What}";
            var task = Task.Run<(string? Structure, Exception? Error, long Allocated)>(() =>
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    var structure = t.Structure(t.Load(input));
                    return (structure, null, GC.GetAllocatedBytesForCurrentThread() - before);
                }
                catch (Exception e) { return (null, e, GC.GetAllocatedBytesForCurrentThread() - before); }
            });
            if (!task.Wait(TimeSpan.FromSeconds(HangSeconds)))
            {
                failures.Add($"{where}: still running after {HangSeconds} s");
                break; // the hung case still owns the work buffer
            }
            foreach (var (offset, _) in m.Patches) work[offset] = t.Seed[offset];
            var (got, error, allocated) = task.Result;
            string kind = m.What.Split(' ')[0];
            var (kl, kr) = byKind.GetValueOrDefault(kind);
            if (allocated > t.AllocationLimit(input.Length))
                failures.Add($"{where}: allocated {allocated} bytes for a {input.Length}-byte input ({(error == null ? "loaded" : error.GetType().Name)})");
            if (error == null)
            {
                if (got == expected) { loaded++; byKind[kind] = (kl + 1, kr); }
                else failures.Add($"{where}: loaded with another structure: {got} instead of {expected}");
            }
            else if (t.Refusals.Contains(error.GetType()))
            {
                if (error.Message.Contains('\n')) failures.Add($"{where}: a refusal of more than one line: {error.Message}");
                refused++;
                byKind[kind] = (kl, kr + 1);
            }
            else failures.Add($"{where}: {error.GetType().Name}: {error.Message}{Environment.NewLine}{error.StackTrace}");
        }
        return new FuzzOutcome(cases, loaded, refused, failures, byKind);
    }

    /// <summary>Fails with every failure (the first ten in full) after printing the outcome counts.</summary>
    public static void Check(FuzzTarget t)
    {
        int cases = Cases, seed = Seed;
        var o = Run(t, cases, seed);
        TestContext.Out.WriteLine($"fuzz | {t.Reader} | seed {seed} | cases {o.Cases} | loaded {o.Loaded} | refused {o.Refused} | other {o.Failures.Count}");
        foreach (var (kind, (l, r)) in o.ByKind.OrderBy(k => k.Key))
            TestContext.Out.WriteLine($"fuzz |   {kind}: loaded {l}, refused {r}");
        Assert.That(o.Failures, Is.Empty,
            $"{o.Failures.Count} of {cases} cases (seed {seed}) ended neither in a load nor in a typed refusal:{Environment.NewLine}" +
            string.Join(Environment.NewLine, o.Failures.Take(10)));
        Assert.That(o.Loaded + o.Refused, Is.EqualTo(cases));
    }

    static Mutation Mutate(FuzzTarget t, Random rng)
    {
        int generic = 4, kinds = generic + (t.Structured.Length > 0 ? 2 : 0);
        int kind = rng.Next(kinds);
        int n = t.Seed.Length;
        switch (kind)
        {
            case 0:
            {
                int flips = 1 + rng.Next(4);
                var patches = new Dictionary<int, byte>();
                for (int f = 0; f < flips; f++)
                {
                    int at = rng.NextDouble() >= t.AnywhereFlips ? rng.Next(t.HeaderEnd) : rng.Next(n);
                    patches[at] = (byte)(patches.GetValueOrDefault(at, t.Seed[at]) ^ (1 << rng.Next(8)));
                }
                return new($"flip bits at {string.Join(",", patches.Keys)}", [.. patches.Select(p => (p.Key, p.Value))], n, []);
            }
            case 1:
            {
                int count = 1 + rng.Next(8), at = rng.Next(t.HeaderEnd);
                var patches = Enumerable.Range(at, Math.Min(count, n - at))
                    .Select(o => (o, rng.Next(2) == 0 ? Interesting[rng.Next(Interesting.Length)] : (byte)rng.Next(256))).ToArray();
                return new($"overwrite header bytes {at}..{at + patches.Length - 1}", patches, n, []);
            }
            case 2:
            {
                var region = t.Regions[rng.Next(t.Regions.Length)];
                int cut = rng.Next(3) == 0 ? region.Start : region.Start + rng.Next(Math.Max(1, region.End - region.Start));
                return new($"truncate to {cut} bytes (in {region.Name})", [], Math.Min(cut, n), []);
            }
            case 3:
            {
                byte[] tail = rng.Next(4) switch
                {
                    0 => [0],
                    1 => [.. t.Seed],
                    2 => Encoding.ASCII.GetBytes("   "),
                    _ => RandomBytes(rng, 1 + rng.Next(100)),
                };
                return new($"append {tail.Length} bytes", [], n, tail);
            }
            default:
                return t.Structured[rng.Next(t.Structured.Length)](rng);
        }
    }

    public static byte[] RandomBytes(Random rng, int n)
    {
        var b = new byte[n];
        rng.NextBytes(b);
        return b;
    }

    /// <summary>A big-endian 32-bit field set to the low 32 bits of the value: what a writer that does not check would store.</summary>
    public static Mutation SetBigEndian32(byte[] file, int offset, string field, ulong value)
    {
        var patched = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(patched.AsSpan(offset), unchecked((uint)value));
        return Mutation.Whole($"length {field} = {value}", patched);
    }

    // ---- JSON helpers for the formats whose headers are JSON ----

    /// <summary>Valid JSON of the wrong shape, for a whole header or any value inside one.</summary>
    public static readonly string[] WrongShapes =
    [
        "null", "true", "0", "-1", "1.5", "\"x\"", "\"\"", "[]", "{}", "[1,2]", "{\"a\":1}", "[{}]", "{\"\":null}",
        "18446744073709551615", "1e400", new string('[', 80) + new string(']', 80),
    ];

    static readonly JsonDocumentOptions Deep = new() { MaxDepth = 256 };

    /// <summary>Every node below the root, with its path and a way to replace it.</summary>
    public static List<(string Path, JsonNode? Node, Action<JsonNode?> Replace)> Slots(JsonNode root)
    {
        var slots = new List<(string, JsonNode?, Action<JsonNode?>)>();
        void Walk(JsonNode? node, string path)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var key in o.Select(p => p.Key).ToList())
                    {
                        slots.Add(($"{path}.{key}", o[key], v => o[key] = v));
                        Walk(o[key], $"{path}.{key}");
                    }
                    break;
                case JsonArray a:
                    for (int i = 0; i < a.Count; i++)
                    {
                        int at = i;
                        slots.Add(($"{path}[{at}]", a[at], v => a[at] = v));
                        Walk(a[at], $"{path}[{at}]");
                    }
                    break;
            }
        }
        Walk(root, "$");
        return slots;
    }

    /// <summary>A copy of the JSON with one value, chosen at random, replaced by one of the wrong shape.</summary>
    public static (string Json, string What) WrongShapeInside(string json, Random rng)
    {
        var root = JsonNode.Parse(json)!;
        var slots = Slots(root);
        var shape = WrongShapes[rng.Next(WrongShapes.Length)];
        if (slots.Count == 0 || rng.Next(8) == 0) return (shape, $"wrong-shape header {Short(shape)}");
        var (path, node, replace) = slots[rng.Next(slots.Count)];
        // An empty container where there was one of the same kind is not the wrong shape: an empty list of epochs is a valid file.
        if (shape is "[]" or "{}" && node?.GetValueKind() == (shape == "[]" ? JsonValueKind.Array : JsonValueKind.Object)) shape = "null";
        replace(JsonNode.Parse(shape, documentOptions: Deep));
        return (root.ToJsonString(), $"wrong-shape {path} = {Short(shape)}");
    }

    /// <summary>A copy of the JSON with one number, chosen among those at paths the filter accepts, set to one of <see cref="LengthValues"/>.</summary>
    public static (string Json, string What)? SetNumber(string json, Random rng, Func<string, bool> isLengthField)
    {
        var root = JsonNode.Parse(json)!;
        var slots = Slots(root).Where(s => s.Node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && isLengthField(s.Path)).ToList();
        if (slots.Count == 0) return null;
        var (path, _, replace) = slots[rng.Next(slots.Count)];
        ulong value = LengthValues[rng.Next(LengthValues.Length)];
        replace(JsonValue.Create(value));
        return (root.ToJsonString(), $"length {path} = {value}");
    }

    static string Short(string s) => s.Length > 12 ? s[..12] + "…" : s;
}
