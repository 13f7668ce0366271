namespace GpuAutoencoder.Training.Data;

/// <summary>Decides which folder MNIST is read from, so the CLI and tests agree on the rules.</summary>
public static class MnistLocator
{
    public const string DataEnvVar = "GPUAE_DATA";

    public static string CacheDir() => CacheDir(Environment.GetEnvironmentVariable);

    public static string CacheDir(Func<string, string?> env)
    {
        // The XDG spec says relative values are invalid and must be ignored.
        var xdg = env("XDG_CACHE_HOME");
        var root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "gpuae", "mnist");
    }

    /// <summary>--data, else $GPUAE_DATA, else the cache. IsCache tells the caller it may download
    /// there; a folder the user named is never filled behind their back.</summary>
    public static (string Dir, bool IsCache) Resolve(string? dataOption) => Resolve(dataOption, Environment.GetEnvironmentVariable);

    public static (string Dir, bool IsCache) Resolve(string? dataOption, Func<string, string?> env)
    {
        if (!string.IsNullOrWhiteSpace(dataOption)) return (Path.GetFullPath(dataOption), false);
        var fromEnv = env(DataEnvVar);
        if (!string.IsNullOrWhiteSpace(fromEnv)) return (Path.GetFullPath(fromEnv), false);
        return (CacheDir(env), true);
    }

    public static bool HasAll(string dir) =>
        new[] { MnistSplit.Train, MnistSplit.Test }.SelectMany(Mnist.FileNames).All(n => Mnist.Find(dir, n) != null);
}
