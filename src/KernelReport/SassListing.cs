using System.Globalization;
using System.Text.RegularExpressions;

namespace GpuAutoencoder.KernelReport;

/// <summary>One SASS instruction: its address, its opcode with modifiers (e.g. LDS.128) and the whole text.</summary>
public sealed record SassInstruction(int Address, string Opcode, string Text)
{
    /// <summary>Where a branch goes, or null for anything that is not a direct branch.</summary>
    public int? BranchTarget
    {
        get
        {
            if (Opcode != "BRA" && !Opcode.StartsWith("BRA.", StringComparison.Ordinal)) return null;
            var target = Regex.Match(Text, @"0x([0-9a-f]+)\s*$");
            return target.Success ? int.Parse(target.Groups[1].Value, NumberStyles.HexNumber) : null;
        }
    }

    public bool IsMath => Opcode.StartsWith("FFMA", StringComparison.Ordinal) || Opcode.StartsWith("HMMA", StringComparison.Ordinal);
    public bool IsLocal => Opcode.StartsWith("LDL", StringComparison.Ordinal) || Opcode.StartsWith("STL", StringComparison.Ordinal);
}

/// <summary>The instructions of one kernel as cuobjdump -sass prints them, in address order.</summary>
public sealed class SassListing(IReadOnlyList<SassInstruction> instructions)
{
    static readonly Regex Line = new(@"^\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;", RegexOptions.Compiled);
    static readonly Regex Predicate = new(@"^@!?U?P\w+\s+", RegexOptions.Compiled);

    public IReadOnlyList<SassInstruction> Instructions { get; } = instructions;

    /// <summary>Reads a cuobjdump -sass listing of a cubin that holds one kernel.</summary>
    public static SassListing Parse(string listing)
    {
        var instructions = new List<SassInstruction>();
        foreach (var raw in listing.Split('\n'))
        {
            var line = Line.Match(raw);
            if (!line.Success) continue;
            string text = line.Groups[2].Value;
            string opcode = Predicate.Replace(text, "").Split(' ', 2)[0];
            instructions.Add(new SassInstruction(int.Parse(line.Groups[1].Value, NumberStyles.HexNumber), opcode, text));
        }
        if (instructions.Count == 0) throw new FormatException("no instructions in the SASS listing");
        return new SassListing(instructions);
    }

    /// <summary>The listing without cuobjdump's encodings: one "/*address*/ instruction ;" a line.</summary>
    public string Text() =>
        string.Concat(Instructions.Select(i => $"/*{i.Address:x4}*/ {i.Text} ;\n"));

    public int LocalMemoryOps => Instructions.Count(i => i.IsLocal);

    /// <summary>
    /// The inner loop of a matrix product, or null where no loop does any math. A loop is a backward
    /// branch and everything from its target to it (the last such branch where several share one
    /// target). Among the loops holding FFMA or HMMA, those that contain no other such loop are the
    /// innermost; of these, the one with the most FFMA/HMMA is the inner loop.
    /// </summary>
    public SassLoop? InnerLoop()
    {
        var loops = Instructions
            .Where(i => i.BranchTarget is { } t && t <= i.Address)
            .GroupBy(i => i.BranchTarget!.Value)
            .Select(g => Body(g.Key, g.Max(i => i.Address)))
            .Where(l => l.Math > 0)
            .ToList();
        return loops
            .Where(l => !loops.Any(inner => inner != l && l.Contains(inner)))
            .OrderByDescending(l => l.Math).ThenBy(l => l.Instructions.Count).ThenBy(l => l.Start)
            .FirstOrDefault();
    }

    SassLoop Body(int start, int end) =>
        new(start, end, Instructions.Where(i => i.Address >= start && i.Address <= end).ToList());
}

/// <summary>The instructions of one loop's body, from its first instruction to its backward branch.</summary>
public sealed record SassLoop(int Start, int End, IReadOnlyList<SassInstruction> Instructions)
{
    public int Math => Instructions.Count(i => i.IsMath);
    public int Ffma => Count("FFMA");
    public int Hmma => Count("HMMA");
    public int Sts => Count("STS");
    public int Barriers => Count("BAR.SYNC");

    /// <summary>Shared-memory loads by opcode (LDS, LDS.64, LDS.128, LDSM…), so their widths show.</summary>
    public IReadOnlyDictionary<string, int> SharedLoads => ByOpcode(o => o.StartsWith("LDS", StringComparison.Ordinal));

    /// <summary>
    /// Global loads by opcode: LDG, and the generic LD that ILGPU emits for ArrayView reads (its
    /// shared-memory reads are ld.shared, so a generic load here reads global memory).
    /// </summary>
    public IReadOnlyDictionary<string, int> GlobalLoads =>
        ByOpcode(o => o == "LD" || o.StartsWith("LD.", StringComparison.Ordinal) || o.StartsWith("LDG", StringComparison.Ordinal));

    IReadOnlyDictionary<string, int> ByOpcode(Func<string, bool> select) =>
        new SortedDictionary<string, int>(Instructions.Where(i => select(i.Opcode))
            .GroupBy(i => i.Opcode).ToDictionary(g => g.Key, g => g.Count()), StringComparer.Ordinal);

    public bool Contains(SassLoop other) => Start <= other.Start && other.End <= End;

    int Count(string prefix) => Instructions.Count(i => i.Opcode == prefix || i.Opcode.StartsWith(prefix + ".", StringComparison.Ordinal));
}
