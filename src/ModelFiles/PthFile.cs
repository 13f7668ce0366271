using System.Buffers.Binary;
using System.Collections;
using System.IO.Compression;
using System.Text;
using GpuAutoencoder.Training.Model;
using Razorvine.Pickle;
using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.ModelFiles;

/// <summary>
/// PyTorch's own state_dict file (torch.save's zip archive: data.pkl, data/0…, version), for float32
/// tensors only. The pickle is written with Razorvine.Pickle using just the globals that
/// torch.load(weights_only=True) accepts, and read back after a scan that allows only the opcodes
/// and globals a state_dict of float tensors uses, so a hostile file can neither run code nor
/// make gpuae allocate more than the caps below.
/// </summary>
public static class PthFile
{
    /// <summary>A state_dict's pickle is a few kilobytes; anything near this is not one.</summary>
    public const int MaxPickleBytes = 1 << 20;
    /// <summary>The largest storage read: 64 Mi floats, far above any layer of this model.</summary>
    public const long MaxStorageBytes = 256L << 20;
    const string ArchiveName = "archive";

    public static void Write(string path, IReadOnlyList<Tensor> tensors)
    {
        var entries = new List<object>();
        var storages = new List<float[]>();
        foreach (var t in tensors)
        {
            if (t.Shape.Aggregate(1L, (n, d) => checked(n * d)) != t.Data.Length)
                throw new ArgumentException($"tensor {t.Name} has shape [{string.Join(",", t.Shape)}] but {t.Data.Length} values");
            var storage = new StorageRef(storages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), t.Data.Length);
            storages.Add(t.Data);
            entries.Add(new object[] { t.Name, new TensorRef(storage, t.Shape) });
        }
        byte[] pickle;
        using (var pickler = new StatePickler()) pickle = pickler.dumps(new OrderedDictRef(entries));

        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            // data.pkl first: PyTorch takes the archive's folder name from the first entry.
            Add(zip, "data.pkl", pickle);
            Add(zip, "byteorder", Encoding.ASCII.GetBytes("little"));
            for (int i = 0; i < storages.Count; i++)
            {
                var bytes = new byte[4L * storages[i].Length];
                for (int j = 0; j < storages[i].Length; j++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * j), storages[i][j]);
                Add(zip, $"data/{i}", bytes);
            }
            Add(zip, "version", Encoding.ASCII.GetBytes("3\n"));
        });
    }

    static void Add(ZipArchive zip, string name, byte[] bytes)
    {
        // Stored, as torch.save writes it.
        using var s = zip.CreateEntry($"{ArchiveName}/{name}", CompressionLevel.NoCompression).Open();
        s.Write(bytes);
    }

    public static Dictionary<string, Tensor> Read(string path)
    {
        using var stream = File.OpenRead(path);
        return Read(stream, Path.GetFileName(path));
    }

    /// <summary><see cref="Read(string)"/> for a file's bytes; <paramref name="file"/> names it in errors.</summary>
    public static Dictionary<string, Tensor> Parse(ReadOnlyMemory<byte> bytes, string file)
    {
        var array = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(bytes, out var segment) ? segment : new ArraySegment<byte>(bytes.ToArray());
        using var stream = new MemoryStream(array.Array!, array.Offset, array.Count, writable: false);
        return Read(stream, file);
    }

    static Dictionary<string, Tensor> Read(Stream stream, string file)
    {
        try
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1)
                ?? throw Error(file, "no data.pkl, so this is not a torch.save archive");
            string prefix = pkl.FullName[..^"data.pkl".Length];
            var pickle = ReadEntry(file, pkl, MaxPickleBytes);
            PickleScan.Check(file, pickle);

            object root;
            try
            {
                using var unpickler = new StateUnpickler();
                root = unpickler.loads(pickle);
            }
            catch (ModelFormatException) { throw; }
            catch (Exception e) when (e is PickleException or InvalidCastException or ArgumentException or IndexOutOfRangeException
                or InvalidOperationException or KeyNotFoundException or NullReferenceException or System.Reflection.TargetInvocationException)
            {
                throw Error(file, $"data.pkl is not a state_dict of float tensors ({OneLine(e)})");
            }
            if (root is not StateDict dict) throw Error(file, "data.pkl does not hold a state_dict (an OrderedDict of tensors)");

            var tensors = new Dictionary<string, Tensor>();
            var storages = new Dictionary<string, float[]>();
            foreach (DictionaryEntry entry in dict)
            {
                if (entry.Key is not string name) throw Error(file, "a state_dict key is not a string");
                if (entry.Value is not TensorRef t) throw Error(file, $"{name} is not a float tensor");
                if (!storages.TryGetValue(t.Storage.Key, out var data))
                {
                    var e = zip.GetEntry($"{prefix}data/{t.Storage.Key}") ?? throw Error(file, $"{name}: storage data/{t.Storage.Key} is missing");
                    long wanted = 4L * t.Storage.Elements;
                    if (wanted > MaxStorageBytes) throw Error(file, $"{name}: storage of {t.Storage.Elements} floats is over gpuae's limit");
                    var bytes = ReadEntry(file, e, (int)wanted);
                    if (bytes.Length != wanted)
                        throw Error(file, $"{name}: storage data/{t.Storage.Key} holds {bytes.Length} bytes, its header says {t.Storage.Elements} floats ({wanted} bytes)");
                    data = new float[t.Storage.Elements];
                    for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(4 * i));
                    storages[t.Storage.Key] = data;
                }
                long count = t.Shape.Aggregate(1L, (n, d) => n * d);
                if (t.Offset + count > data.Length)
                    throw Error(file, $"{name}: shape [{string.Join(",", t.Shape)}] at offset {t.Offset} needs {t.Offset + count} floats, its storage holds {data.Length}");
                tensors[name] = new Tensor(name, t.Shape, data.AsSpan((int)t.Offset, (int)count).ToArray());
            }
            return tensors;
        }
        catch (InvalidDataException e) { throw Error(file, $"not a readable zip archive ({OneLine(e)})"); }
    }

    /// <summary>Reads at most <paramref name="cap"/> + 1 bytes whatever the entry's header claims, so a lying length cannot drive an allocation.</summary>
    static byte[] ReadEntry(string file, ZipArchiveEntry entry, int cap)
    {
        if (entry.Length > cap) throw Error(file, $"{entry.FullName} is {entry.Length} bytes, more than the {cap} expected");
        using var s = entry.Open();
        var buffer = new byte[Math.Min(entry.Length, cap) + 1];
        int n = s.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (n > cap) throw Error(file, $"{entry.FullName} holds more than the {cap} bytes expected");
        if (n != entry.Length) throw Error(file, $"{entry.FullName} holds {n} bytes, its zip header says {entry.Length}");
        // ZipArchive does not check a stored entry's CRC-32 here, so a flipped byte inside data.pkl (a tensor's name,
        // a size) would load as another state_dict; torch.load checks it, and so does gpuae.
        if (Crc32(buffer.AsSpan(0, n)) != entry.Crc32) throw Error(file, $"{entry.FullName} does not match its CRC-32; the file is damaged");
        return buffer[..n];
    }

    static readonly uint[] CrcTable = [.. Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    })];

    /// <summary>The zip format's CRC-32 (IEEE 802.3, reflected).</summary>
    internal static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint c = 0xFFFFFFFFu;
        foreach (var b in bytes) c = CrcTable[(c ^ b) & 0xff] ^ (c >> 8);
        return ~c;
    }

    static string OneLine(Exception e) => e.Message.ReplaceLineEndings(" ").Trim();

    internal static ModelFormatException Error(string file, string what) => new($"{file}: {what}");

    // ---- the objects a state_dict pickle builds, and how they are written ----

    /// <summary>collections.OrderedDict; PyTorch's state_dict sets _metadata on it through BUILD, which is accepted and ignored.</summary>
    sealed class StateDict : Hashtable
    {
        public StateDict() : base(StringComparer.Ordinal) { }
        public void __setstate__(Hashtable state) { }
    }

    sealed record StorageRef(string Key, long Elements);

    sealed record TensorRef(StorageRef Storage, int[] Shape, long Offset = 0);

    sealed record OrderedDictRef(List<object> Pairs);

    sealed class FloatStorageClass { public static readonly FloatStorageClass Instance = new(); }

    sealed class GlobalWriter<T>(string module, string name, Func<T, object[]> arguments) : IObjectDeconstructor
    {
        public string get_module() => module;
        public string get_name() => name;
        public object[] deconstruct(object obj) => arguments((T)obj);
    }

    sealed class StatePickler : Pickler
    {
        static StatePickler()
        {
            // OrderedDict(list of (key, value)) and _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks),
            // the form torch.load(weights_only=True) rebuilds.
            registerCustomDeconstructor(typeof(OrderedDictRef), new GlobalWriter<OrderedDictRef>("collections", "OrderedDict", d => [new ArrayList(d.Pairs)]));
            registerCustomDeconstructor(typeof(TensorRef), new GlobalWriter<TensorRef>("torch._utils", "_rebuild_tensor_v2", t =>
                [t.Storage, 0, t.Shape.Cast<object>().ToArray(), Strides(t.Shape).Cast<object>().ToArray(), false, new OrderedDictRef([])]));
            // A bare global (no arguments): the storage's class inside the persistent id.
            registerCustomDeconstructor(typeof(FloatStorageClass), new GlobalWriter<FloatStorageClass>("torch", "FloatStorage", _ => []));
        }

        public StatePickler() : base(useMemo: false) { }

        protected override bool persistentId(object pid, out object newpid)
        {
            if (pid is StorageRef s)
            {
                // PyTorch's persistent id of a storage: ('storage', class, key, location, number of elements).
                newpid = new object[] { "storage", FloatStorageClass.Instance, s.Key, "cpu", checked((int)s.Elements) };
                return true;
            }
            newpid = null!;
            return false;
        }
    }

    static int[] Strides(int[] shape)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { strides[i] = s; s *= shape[i]; }
        return strides;
    }

    sealed class OrderedDictConstructor : IObjectConstructor
    {
        public object construct(object[] args)
        {
            var d = new StateDict();
            if (args.Length == 0) return d;
            if (args.Length != 1 || args[0] is not ArrayList pairs) throw new PickleException("OrderedDict takes one list of pairs");
            foreach (var p in pairs)
            {
                if (p is not object[] { Length: 2 } kv) throw new PickleException("OrderedDict item is not a pair");
                d[kv[0]] = kv[1];
            }
            return d;
        }
    }

    sealed class FloatStorageConstructor : IObjectConstructor
    {
        public object construct(object[] args) => throw new PickleException("torch.FloatStorage is only allowed as a storage's type");
    }

    sealed class RebuildTensorConstructor : IObjectConstructor
    {
        public object construct(object[] args)
        {
            if (args.Length is < 6 or > 7) throw new PickleException($"_rebuild_tensor_v2 with {args.Length} arguments");
            if (args[0] is not StorageRef storage) throw new PickleException("a tensor's storage is not a FloatStorage");
            long offset = Integer(args[1]);
            if (args[2] is not object[] size || args[3] is not object[] stride || size.Length != stride.Length)
                throw new PickleException("a tensor's size and stride are not tuples of one length");
            var shape = size.Select(d => Integer(d) is var v && v <= int.MaxValue ? (int)v : throw new PickleException($"dimension {v} is too large")).ToArray();
            if (!stride.Select(Integer).SequenceEqual(Strides(shape).Select(s => (long)s)))
                throw new PickleException("a tensor is not contiguous");
            if (offset < 0 || offset > storage.Elements) throw new PickleException($"storage offset {offset} is out of range");
            if (shape.Aggregate(1L, (n, d) => n * d) > storage.Elements - offset)
                throw new PickleException($"shape [{string.Join(",", shape)}] needs more floats than its storage's {storage.Elements}");
            return new TensorRef(storage, shape, offset);
        }
    }

    static long Integer(object o) => o switch
    {
        int i and >= 0 => i,
        long l and >= 0 => l,
        _ => throw new PickleException($"expected a non-negative integer, got {o}"),
    };

    sealed class StateUnpickler : Unpickler
    {
        internal static readonly IObjectConstructor FloatStorage = new FloatStorageConstructor();

        static StateUnpickler()
        {
            registerConstructor("collections", "OrderedDict", new OrderedDictConstructor());
            registerConstructor("torch._utils", "_rebuild_tensor_v2", new RebuildTensorConstructor());
            registerConstructor("torch", "FloatStorage", FloatStorage);
        }

        protected override object persistentLoad(object pid)
        {
            if (pid is not object[] { Length: 5 } p || p[0] is not "storage" || p[2] is not string key || p[3] is not string)
                throw new PickleException("a persistent id that is not a storage");
            if (!ReferenceEquals(p[1], FloatStorage)) throw new PickleException("a storage that is not a FloatStorage");
            long elements = Integer(p[4]);
            if (key.Length is 0 or > 20 || !key.All(char.IsAsciiDigit)) throw new PickleException($"storage key '{key}'");
            return new StorageRef(key, elements);
        }
    }
}

/// <summary>
/// Walks a pickle's opcodes before anything is unpickled (as Python's pickletools.genops does) and
/// refuses every opcode and global that a state_dict of float tensors does not use.
/// </summary>
static class PickleScan
{
    static readonly HashSet<string> AllowedGlobals = ["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage"];

    public static void Check(string file, byte[] p)
    {
        int i = 0;
        while (true)
        {
            if (i >= p.Length) throw PthFile.Error(file, "data.pkl ends without a STOP opcode");
            byte op = p[i++];
            int arg = op switch
            {
                Opcodes.STOP => -1,
                Opcodes.MARK or Opcodes.EMPTY_TUPLE or Opcodes.TUPLE or Opcodes.TUPLE1 or Opcodes.TUPLE2 or Opcodes.TUPLE3
                    or Opcodes.EMPTY_LIST or Opcodes.APPEND or Opcodes.APPENDS or Opcodes.EMPTY_DICT or Opcodes.SETITEM
                    or Opcodes.SETITEMS or Opcodes.NEWTRUE or Opcodes.NEWFALSE or Opcodes.NONE or Opcodes.REDUCE or Opcodes.BUILD
                    or Opcodes.BINPERSID or Opcodes.MEMOIZE => 0,
                Opcodes.PROTO or Opcodes.BININT1 or Opcodes.BINPUT or Opcodes.BINGET => 1,
                Opcodes.BININT2 => 2,
                Opcodes.BININT or Opcodes.LONG_BINPUT or Opcodes.LONG_BINGET => 4,
                Opcodes.LONG1 => 1 + Byte(file, p, i),
                Opcodes.SHORT_BINUNICODE => 1 + Byte(file, p, i),
                Opcodes.BINUNICODE => 4 + Length(file, p, i),
                Opcodes.GLOBAL => Global(file, p, i),
                _ => throw PthFile.Error(file, $"data.pkl uses pickle opcode 0x{op:x2}{(op is > 0x20 and < 0x7f ? $" ('{(char)op}')" : "")}, which a state_dict of float tensors does not; refused"),
            };
            if (arg < 0) return;
            if (arg > p.Length - i) throw PthFile.Error(file, "data.pkl is truncated");
            i += arg;
        }
    }

    static int Byte(string file, byte[] p, int i) => i < p.Length ? p[i] : throw PthFile.Error(file, "data.pkl is truncated");

    static int Length(string file, byte[] p, int i)
    {
        if (p.Length - i < 4) throw PthFile.Error(file, "data.pkl is truncated");
        uint n = BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(i));
        return n <= (uint)(p.Length - i - 4) ? (int)n : throw PthFile.Error(file, "data.pkl is truncated (a string runs past its end)");
    }

    /// <summary>The length of GLOBAL's "module\nname\n" argument, after checking the name is allowed.</summary>
    static int Global(string file, byte[] p, int i)
    {
        int first = Array.IndexOf(p, (byte)'\n', i);
        int second = first < 0 ? -1 : Array.IndexOf(p, (byte)'\n', first + 1);
        if (second < 0) throw PthFile.Error(file, "data.pkl is truncated in a GLOBAL");
        string name = $"{Encoding.ASCII.GetString(p, i, first - i)}.{Encoding.ASCII.GetString(p, first + 1, second - first - 1)}";
        if (!AllowedGlobals.Contains(name))
            throw PthFile.Error(file, $"data.pkl refers to the global {name}, which a state_dict of float tensors does not use; refused");
        return second + 1 - i;
    }
}
