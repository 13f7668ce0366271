using System.Buffers.Binary;
using System.Collections;
using System.IO.Compression;
using System.Text;
using Google.Protobuf;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training.IO;
using GpuAutoencoder.Training.Model;
using Onnx;
using Razorvine.Pickle;

namespace GpuAutoencoder.Tests;

/// <summary>
/// Issue 13's fuzzer over the two readers the ecosystem work added: PyTorch's .pth (torch.save's zip, read by
/// <see cref="PthFile"/>) and the ONNX graphs gpuae exports (read by <see cref="OnnxModelReader"/>), each through
/// the reader's own Parse: the model's checks behind each reader are the ones Fuzz_Weights covers.
/// </summary>
[Category("Fuzz")]
public class FuzzModelFileTests
{
    static readonly Type[] Refusals = [typeof(ModelFormatException)];

    /// <summary>
    /// What a .pth must keep: its tensors' names, each holding exactly its shape's count. Not the shapes: a size in
    /// data.pkl set smaller (to 0 or 1) is a valid view on the start of its storage, as PyTorch reads it too, and only
    /// the model's checks behind the reader (covered by Fuzz_Weights) know which shapes to expect.
    /// </summary>
    static string PthStructure(Dictionary<string, Tensor> t) =>
        $"{string.Join(",", t.Keys.Order(StringComparer.Ordinal))}; " +
        $"{t.Values.Count(x => x.Data.Length != x.Shape.Aggregate(1L, (a, d) => a * d))} inconsistent with their shape";

    static string TensorsStructure(Dictionary<string, Tensor> t) =>
        $"{t.Count} tensors, {t.Values.Sum(x => (long)x.Data.Length)} values, " +
        $"{t.Values.Count(x => x.Data.Length != x.Shape.Aggregate(1L, (a, d) => a * d))} inconsistent with their shape";

    static ulong AnyLength(Random rng) => Fuzzer.LengthValues[rng.Next(Fuzzer.LengthValues.Length)];

    // ---- .pth ----

    /// <summary>
    /// The .pth seed is a small state_dict written by <see cref="PthFile.Write"/> (a few kilobytes), not a z = 1 model
    /// (2.5 MB): every case unzips, scans and unpickles the whole file, and the model-level checks behind the reader
    /// (names, shapes, finiteness) are the ones Fuzz_Weights already covers. It keeps a 0-element and a 0-d tensor,
    /// which the model does not have.
    /// </summary>
    static byte[] PthSeed(string dir)
    {
        var path = Path.Combine(dir, "small.pth");
        PthFile.Write(path,
        [
            new Tensor("fc1.weight", [2, 3], [1, -2, 3, 0.5f, 0, -0f]),
            new Tensor("empty", [0, 4], []),
            new Tensor("fc1.bias", [3], [0.25f, -1, 7]),
            new Tensor("scalar", [], [42]),
        ]);
        return File.ReadAllBytes(path);
    }

    /// <summary>One zip entry as the seed holds it: where its local header, its data and its central directory record are.</summary>
    sealed record ZipEntryAt(string Name, int Local, int Data, int DataEnd, int Central);

    /// <summary>Walks the seed's end record and central directory (no zip64, no comment: what PthFile.Write makes).</summary>
    static (List<ZipEntryAt> Entries, int CentralStart, int End) ZipLayout(byte[] z)
    {
        int end = z.Length - 22;
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(z.AsSpan(end)), Is.EqualTo(0x06054b50u), "the seed ends with a zip end record");
        int count = BinaryPrimitives.ReadUInt16LittleEndian(z.AsSpan(end + 10)), cd = (int)BinaryPrimitives.ReadUInt32LittleEndian(z.AsSpan(end + 16));
        var entries = new List<ZipEntryAt>();
        for (int i = 0, c = cd; i < count; i++)
        {
            int csize = (int)BinaryPrimitives.ReadUInt32LittleEndian(z.AsSpan(c + 20));
            int n = BinaryPrimitives.ReadUInt16LittleEndian(z.AsSpan(c + 28)), m = BinaryPrimitives.ReadUInt16LittleEndian(z.AsSpan(c + 30)), k = BinaryPrimitives.ReadUInt16LittleEndian(z.AsSpan(c + 32));
            int local = (int)BinaryPrimitives.ReadUInt32LittleEndian(z.AsSpan(c + 42));
            int data = local + 30 + BinaryPrimitives.ReadUInt16LittleEndian(z.AsSpan(local + 26)) + BinaryPrimitives.ReadUInt16LittleEndian(z.AsSpan(local + 28));
            entries.Add(new(Encoding.UTF8.GetString(z, c + 46, n), local, data, data + csize, c));
            c += 46 + n + m + k;
        }
        return (entries, cd, end);
    }

    /// <summary>Every length and offset field of the zip: sizes, name and extra lengths, the local header offsets, the end record's counts and offset.</summary>
    static List<(int Offset, int Width, string Name)> ZipLengthFields((List<ZipEntryAt> Entries, int CentralStart, int End) l)
    {
        var fields = new List<(int, int, string)>();
        foreach (var e in l.Entries)
        {
            fields.AddRange([(e.Local + 18, 4, $"{e.Name} local compressed size"), (e.Local + 22, 4, $"{e.Name} local size"),
                (e.Local + 26, 2, $"{e.Name} local name length"), (e.Local + 28, 2, $"{e.Name} local extra length"),
                (e.Central + 20, 4, $"{e.Name} central compressed size"), (e.Central + 24, 4, $"{e.Name} central size"),
                (e.Central + 28, 2, $"{e.Name} central name length"), (e.Central + 30, 2, $"{e.Name} central extra length"),
                (e.Central + 32, 2, $"{e.Name} central comment length"), (e.Central + 42, 4, $"{e.Name} local header offset")]);
        }
        fields.AddRange([(l.End + 8, 2, "end record entries on disk"), (l.End + 10, 2, "end record entries"),
            (l.End + 12, 4, "central directory size"), (l.End + 16, 4, "central directory offset"), (l.End + 20, 2, "comment length")]);
        return fields;
    }

    /// <summary>A zip made again from entries (name, bytes), stored as torch.save stores them, so a changed pickle or
    /// storage passes the CRC and reaches the checks behind it.</summary>
    static byte[] Zip(IEnumerable<(string Name, byte[] Bytes)> entries)
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, bytes) in entries)
            {
                using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                s.Write(bytes);
            }
        return ms.ToArray();
    }

    /// <summary>Where each integer (BININT1/2, BININT, LONG1) and each BINUNICODE length sits in a pickle.</summary>
    static List<(int Op, int End, string What)> PickleIntegers(byte[] p)
    {
        var found = new List<(int, int, string)>();
        for (int i = 0; i < p.Length;)
        {
            byte op = p[i];
            int arg = op switch
            {
                Opcodes.PROTO or Opcodes.BININT1 or Opcodes.BINPUT or Opcodes.BINGET => 1,
                Opcodes.BININT2 => 2,
                Opcodes.BININT or Opcodes.LONG_BINPUT or Opcodes.LONG_BINGET => 4,
                Opcodes.LONG1 => 1 + p[i + 1],
                Opcodes.SHORT_BINUNICODE => 1 + p[i + 1],
                Opcodes.BINUNICODE => 4 + (int)BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(i + 1)),
                Opcodes.GLOBAL => Array.IndexOf(p, (byte)'\n', Array.IndexOf(p, (byte)'\n', i + 1) + 1) - i,
                Opcodes.STOP => p.Length,
                _ => 0,
            };
            if (op is Opcodes.BININT1 or Opcodes.BININT2 or Opcodes.BININT or Opcodes.LONG1) found.Add((i, i + 1 + arg, $"integer at {i}"));
            if (op == Opcodes.BINUNICODE) found.Add((i, -1, $"string length at {i}"));
            i += 1 + arg;
        }
        return found;
    }

    /// <summary>An integer opcode for the value: BININT1 or BININT where it fits, else LONG1 (little-endian two's complement).</summary>
    static byte[] PickleInteger(ulong v)
    {
        if (v < 256) return [Opcodes.BININT1, (byte)v];
        if (v <= int.MaxValue) return [Opcodes.BININT, .. BitConverter.GetBytes((int)v)];
        var bytes = new System.Numerics.BigInteger(v).ToByteArray();
        return [Opcodes.LONG1, (byte)bytes.Length, .. bytes];
    }

    /// <summary>Python values of the wrong shape for a state_dict, pickled by Razorvine's own Pickler.</summary>
    static readonly object?[] WrongPickles =
    [
        null, true, 0, -1, 1.5, "x", "", new ArrayList(), new Hashtable(), new ArrayList { 1, 2 }, new Hashtable { ["a"] = 1 },
        new ArrayList { new Hashtable() }, new Hashtable { ["fc1.weight"] = "x" }, new Hashtable { [1] = 2 }, new object[] { "storage", 1, "0", "cpu", 6 },
    ];

    [Test]
    public void Fuzz_Pth()
    {
        var dir = TestPaths.TempDir("fuzz-pth");
        try
        {
            var seed = PthSeed(dir);
            var layout = ZipLayout(seed);
            var fields = ZipLengthFields(layout);
            var contents = layout.Entries.Select(e => (e.Name, Bytes: seed[e.Data..e.DataEnd])).ToList();
            int pkl = contents.FindIndex(c => c.Name.EndsWith("/data.pkl", StringComparison.Ordinal));
            var pickle = contents[pkl].Bytes;
            var integers = PickleIntegers(pickle);
            var storages = contents.Select((c, i) => (c, i)).Where(x => x.c.Name.Contains("/data/", StringComparison.Ordinal)).Select(x => x.i).ToArray();
            Assert.That(storages, Has.Length.EqualTo(4), "the seed has one storage per tensor");

            byte[] With(int index, byte[] bytes) => Zip(contents.Select((c, i) => i == index ? (c.Name, bytes) : c));

            Fuzzer.Check(new FuzzTarget
            {
                Reader = ".pth",
                Seed = seed,
                Load = b => PthFile.Parse(b, "small.pth"),
                Structure = o => PthStructure((Dictionary<string, Tensor>)o),
                Refusals = Refusals,
                // The header bytes of a zip are spread over the file; overwrites and half the flips land in the first
                // local header and data.pkl, which hold the most decisions.
                HeaderEnd = layout.Entries[0].DataEnd,
                Regions =
                [
                    .. layout.Entries.SelectMany(e => new[] { new Region($"local header {e.Name}", e.Local, e.Data), new Region($"data {e.Name}", e.Data, Math.Max(e.DataEnd, e.Data + 1)) }),
                    new("central directory", layout.CentralStart, layout.End),
                    new("end record", layout.End, seed.Length),
                    new("end", seed.Length, seed.Length + 1),
                ],
                Structured =
                [
                    rng =>
                    {
                        var (offset, width, name) = fields[rng.Next(fields.Count)];
                        ulong value = AnyLength(rng);
                        return new Mutation($"length zip {name} = {value}", [.. BitConverter.GetBytes(value).Take(width).Select((b, i) => (offset + i, b))], seed.Length, []);
                    },
                    rng =>
                    {
                        var (op, end, what) = integers[rng.Next(integers.Count)];
                        ulong value = AnyLength(rng);
                        var p = (byte[])pickle.Clone();
                        if (end < 0) BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(op + 1), unchecked((uint)value));
                        else p = [.. pickle[..op], .. PickleInteger(value), .. pickle[end..]];
                        return Mutation.Whole($"length data.pkl {what} = {value} (zipped again)", With(pkl, p));
                    },
                    rng =>
                    {
                        var wrong = WrongPickles[rng.Next(WrongPickles.Length)];
                        using var pickler = new Pickler();
                        return Mutation.Whole($"wrong-shape data.pkl = {wrong?.GetType().Name ?? "None"} (zipped again)", With(pkl, pickler.dumps(wrong)));
                    },
                    rng =>
                    {
                        int s = storages[rng.Next(storages.Length)];
                        var bytes = contents[s].Bytes;
                        var (changed, what) = rng.Next(5) switch
                        {
                            0 => ([], "empty"),
                            1 => (new byte[] { 1 }, "1 byte"),
                            2 => (bytes.Length >= 4 ? bytes[..^4] : [], "4 bytes short"),
                            3 => ([.. bytes, 0, 0, 0, 0], "4 bytes long"),
                            _ => ([.. bytes, 0], "1 byte long"),
                        };
                        return Mutation.Whole($"wrong-shape storage {contents[s].Name} {what} (zipped again)", With(s, changed));
                    },
                    rng =>
                    {
                        int k = rng.Next(contents.Count);
                        var (changed, what) = rng.Next(3) switch
                        {
                            0 => (contents.Where((_, i) => i != k), "removed"),
                            1 => (contents.Append(contents[k]), "twice"),
                            _ => (contents.Select((c, i) => i == k ? (c.Name + "x", c.Bytes) : c), "renamed"),
                        };
                        return Mutation.Whole($"wrong-shape entry {contents[k].Name} {what} (zipped again)", Zip(changed));
                    },
                ],
            });
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    // ---- ONNX ----

    /// <summary>A length-delimited or varint field of the protobuf wire format: where its tag, length (or value) and payload are.</summary>
    sealed record WireField(string Path, int Tag, int Value, int ValueEnd, int PayloadEnd, bool Delimited);

    static ulong Varint(byte[] b, ref int i)
    {
        ulong v = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (i >= b.Length || shift > 63) throw new FormatException();
            byte x = b[i++];
            v |= (ulong)(x & 0x7f) << shift;
            if (x < 0x80) return v;
        }
    }

    /// <summary>The fields of a message, and (to a depth of 3) of the messages inside its delimited fields, where those parse as messages.</summary>
    static bool Walk(byte[] b, int start, int end, string path, int depth, List<WireField> into)
    {
        var mine = new List<WireField>();
        try
        {
            for (int i = start; i < end;)
            {
                int tag = i;
                ulong key = Varint(b, ref i);
                int field = (int)(key >> 3), wire = (int)(key & 7);
                if (field == 0) return false;
                int value = i;
                switch (wire)
                {
                    case 0: Varint(b, ref i); mine.Add(new($"{path}.{field}", tag, value, i, i, false)); break;
                    case 1: i += 8; break;
                    case 5: i += 4; break;
                    case 2:
                        ulong n = Varint(b, ref i);
                        if (n > (ulong)(end - i)) return false;
                        mine.Add(new($"{path}.{field}", tag, value, i, i + (int)n, true));
                        i += (int)n;
                        break;
                    default: return false;
                }
                if (i > end) return false;
            }
        }
        catch (FormatException) { return false; }
        into.AddRange(mine);
        if (depth < 3)
            foreach (var f in mine.Where(f => f.Delimited && f.PayloadEnd > f.ValueEnd))
                Walk(b, f.ValueEnd, f.PayloadEnd, f.Path, depth + 1, into);
        return true;
    }

    static byte[] EncodeVarint(ulong v)
    {
        var o = new List<byte>();
        do { byte x = (byte)(v & 0x7f); v >>= 7; o.Add(v != 0 ? (byte)(x | 0x80) : x); } while (v != 0);
        return [.. o];
    }

    /// <summary>Changes to the parsed model that keep it valid protobuf but give it content of the wrong shape.</summary>
    static (ModelProto Model, string What) WrongShape(ModelProto seed, Random rng)
    {
        var m = seed.Clone();
        var g = m.Graph;
        var init = g.Initializer[rng.Next(g.Initializer.Count)];
        var node = g.Node[rng.Next(g.Node.Count)];
        switch (rng.Next(16))
        {
            case 0:
            {
                ulong v = AnyLength(rng);
                int k = rng.Next(init.Dims.Count);
                init.Dims[k] = unchecked((long)v);
                return (m, $"length {init.Name}.dims[{k}] = {v}");
            }
            case 1: { int k = rng.Next(init.Dims.Count); init.Dims[k] = -1; return (m, $"wrong-shape {init.Name}.dims[{k}] = -1"); }
            case 2: init.Dims.Add(1); return (m, $"wrong-shape {init.Name} gets a dimension of 1");
            case 3:
            {
                int count = init.FloatData.Count;
                int cut = new[] { 0, 1, count - 1, count + 1 }[rng.Next(4)];
                var values = init.FloatData.Concat([0f]).Take(cut).ToArray();
                init.FloatData.Clear();
                init.FloatData.AddRange(values);
                return (m, $"wrong-shape {init.Name} float_data of {cut} values");
            }
            case 4:
            {
                // Values in raw_data instead of float_data: as valid as the seed, and must load as it does; or raw_data of a
                // length that is not whole floats.
                var raw = new byte[4 * init.FloatData.Count + (rng.Next(2) == 0 ? 0 : 1 + rng.Next(3))];
                for (int i = 0; i < init.FloatData.Count; i++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(4 * i), init.FloatData[i]);
                init.FloatData.Clear();
                init.RawData = ByteString.CopyFrom(raw);
                return (m, $"wrong-shape {init.Name} as raw_data of {raw.Length} bytes");
            }
            case 5: { int t = rng.Next(17); init.DataType = t; return (m, $"wrong-shape {init.Name} data_type = {t}"); }
            case 6: init.Name += "x"; return (m, $"wrong-shape initializer renamed {init.Name}");
            case 7: g.Initializer.Add(init.Clone()); return (m, $"wrong-shape initializer {init.Name} twice");
            case 8:
            {
                var (list, which) = rng.Next(2) == 0 ? (node.Output, "output") : (node.Input, "input");
                string what;
                switch (rng.Next(3))
                {
                    case 0: list.Clear(); what = "cleared"; break;
                    case 1: list.Add("extra"); what = "+ extra"; break;
                    default: if (list.Count > 0) list.RemoveAt(list.Count - 1); what = "- last"; break;
                }
                return (m, $"wrong-shape node {node.Name} {which} {what}");
            }
            case 9: { var op = new[] { "", "Relu", "Gemm", "Sigmoid", "Conv" }[rng.Next(5)]; node.OpType = op; return (m, $"wrong-shape node {node.Name} op = '{op}'"); }
            case 10:
            {
                int k = rng.Next(g.Node.Count);
                if (rng.Next(2) == 0) g.Node.RemoveAt(k); else g.Node.Insert(k, g.Node[k].Clone());
                return (m, $"wrong-shape node {k} removed or doubled");
            }
            case 11:
                if (node.Attribute.Count > 0 && rng.Next(2) == 0) { ulong v = AnyLength(rng); node.Attribute[0].I = unchecked((long)v); return (m, $"length node {node.Name} transB = {v}"); }
                node.Attribute.Add(new AttributeProto { Name = "alpha", F = 2 });
                return (m, $"wrong-shape node {node.Name} + attribute");
            case 12:
            {
                var (list, which) = rng.Next(2) == 0 ? (g.Input, "input") : (g.Output, "output");
                if (rng.Next(2) == 0) list.Clear(); else list.Add(list.Count > 0 ? list[0].Clone() : new ValueInfoProto { Name = "x" });
                return (m, $"wrong-shape graph {which} cleared or doubled");
            }
            case 13:
            {
                var part = new[] { "encoder", "decoder", "", "Autoencoder" }[rng.Next(4)];
                m.MetadataProps.First(p => p.Key == OnnxExport.PartKey).Value = part;
                return (m, $"wrong-shape gpuae_part = '{part}'");
            }
            case 14: m.MetadataProps.Clear(); return (m, "wrong-shape metadata removed");
            default: m.Graph = null; return (m, "wrong-shape no graph");
        }
    }

    /// <summary>
    /// The graph, names and metadata of gpuae's z = 1 export, with each initializer cut to a few of its values (weights
    /// [1..4, 2], biases [1]). The reader checks the wiring and that each initializer's values fill its dims; the
    /// shapes the architecture needs are checked behind it, by the same code Fuzz_Weights covers. At its real 2.5 MB a
    /// case cost about 14 ms here (28 s for 2,000), nearly all of it copying and converting weights no mutation reaches.
    /// </summary>
    static ModelProto OnnxSeed()
    {
        var layout = new ParameterLayout(new Architecture(1));
        var model = OnnxExport.Build(layout, layout.Initialize(3), OnnxPart.Autoencoder, "00ff", "fuzz");
        for (int k = 0; k < model.Graph.Initializer.Count; k++)
        {
            var t = model.Graph.Initializer[k];
            long[] dims = t.Dims.Count == 2 ? [k / 2 + 1, 2] : [1];
            t.Dims.Clear();
            t.Dims.AddRange(dims);
            var kept = t.FloatData.Take((int)dims.Aggregate((a, d) => a * d)).ToArray();
            t.FloatData.Clear();
            t.FloatData.AddRange(kept);
        }
        return model;
    }

    [Test]
    public void Fuzz_Onnx()
    {
        var model = OnnxSeed();
        var seed = model.ToByteArray();
        var fields = new List<WireField>();
        Assert.That(Walk(seed, 0, seed.Length, "model", 0, fields), Is.True, "the seed is valid protobuf");
        var top = fields.Where(f => f.Path.Count(c => c == '.') == 1).ToList();
        var graph = top.Single(f => f.Path == "model.7"); // ModelProto.graph
        var inGraph = fields.Where(f => f.Path.StartsWith("model.7.", StringComparison.Ordinal) && f.Path.Count(c => c == '.') == 2).ToList();
        var lengths = fields.Where(f => f.Delimited || f.Path.Count(c => c == '.') <= 3).ToList();
        // Overwrites and half the flips land before the first initializer's values: the model's fields, the nodes, the graph's name.
        var firstInitializer = inGraph.First(f => f.Path == "model.7.5");

        Fuzzer.Check(new FuzzTarget
        {
            Reader = ".onnx",
            Seed = seed,
            Load = b => OnnxModelReader.Parse(b, "model.onnx"),
            Structure = o => o is (Dictionary<string, Tensor> t, Dictionary<string, string> md) ? $"{TensorsStructure(t)}, {md.Count} metadata entries" : "?",
            Refusals = Refusals,
            HeaderEnd = firstInitializer.ValueEnd + 16,
            Regions =
            [
                .. top.Where(f => f != graph).Select(f => new Region($"field {f.Path}", f.Tag, f.PayloadEnd)),
                .. inGraph.Select(f => new Region($"field {f.Path} at {f.Tag}", f.Tag, f.PayloadEnd)),
                new("end", seed.Length, seed.Length + 1),
            ],
            Structured =
            [
                rng =>
                {
                    // A length or varint field set to a length value: the varint is written again, nothing else changes.
                    var f = lengths[rng.Next(lengths.Count)];
                    ulong value = AnyLength(rng);
                    return Mutation.Whole($"length {(f.Delimited ? "of " : "")}{f.Path} at {f.Tag} = {value}",
                        (byte[])[.. seed.AsSpan(0, f.Value), .. EncodeVarint(value), .. seed.AsSpan(f.Delimited ? f.ValueEnd : f.ValueEnd)]);
                },
                rng =>
                {
                    var (m, what) = WrongShape(model, rng);
                    return Mutation.Whole(what, m.ToByteArray());
                },
            ],
        });
    }
}
