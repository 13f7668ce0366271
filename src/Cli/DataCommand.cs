using System.CommandLine;
using GpuAutoencoder.Training.Data;

namespace GpuAutoencoder.Cli;

/// <summary>gpuae data fetch: fills the per-user MNIST cache (or --data DIR) with verified files.</summary>
public static class DataCommand
{
    public static Command Create()
    {
        var dir = new Option<string?>("--data") { Description = "Folder to fill. Default: $GPUAE_DATA, else the per-user cache." };
        var fetch = new Command("fetch", "Download MNIST and verify each file's SHA-256; files already present and correct are kept.") { dir };
        fetch.SetAction(parse => CommonOptions.Run(parse.GetValue(CommonOptions.Verbose), () =>
        {
            var (target, _) = MnistLocator.Resolve(parse.GetValue(dir));
            Fetch(target);
            Console.WriteLine($"MNIST is in {target}");
            return ExitCodes.Ok;
        }));
        return new Command("data", "Manage the MNIST data set.") { fetch };
    }

    public static void Fetch(string dir) =>
        MnistFetcher.FetchAsync(dir, new InlineProgress<string>(m => Console.Error.WriteLine($"data: {m}"))).GetAwaiter().GetResult();

    /// <summary>The training or test split, fetched into the cache first when the cache is what is being used and it is empty.</summary>
    public static (MnistSet Set, string Dir) Load(string? dataOption, MnistSplit split)
    {
        var (dir, isCache) = MnistLocator.Resolve(dataOption);
        if (isCache && !MnistLocator.HasAll(dir))
        {
            Console.Error.WriteLine($"data: MNIST is not in {dir} yet; fetching it");
            Fetch(dir);
        }
        else if (!Directory.Exists(dir))
            throw new UsageException($"--data: folder {dir} does not exist");
        return (Mnist.Load(dir, split), dir);
    }
}
