using System.Text.RegularExpressions;
using GpuAutoencoder.Kernels;

namespace GpuAutoencoder.Tests;

/// <summary>
/// The kernel catalogue is what the kernel report and the ptxas checks compile; a kernel the product
/// loads but the catalogue leaves out would go unchecked, so the sources are the reference here.
/// </summary>
public class KernelCatalogTests
{
    // accelerator.LoadAutoGroupedStreamKernel<Index1D, ...>(ElementwiseKernels.Adam) and the like,
    // with or without a specialisation after the method.
    static readonly Regex KernelLoad = new(@"\.(Load\w*Kernel)\s*<.*?>\s*\(\s*(\w+)\.(\w+)\s*(?:<\w+>)?\s*[,)]", RegexOptions.Singleline);

    [Test]
    public void ListsEveryKernelTheSourcesLoadWithItsGrouping()
    {
        var loaded = Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "src"), "*.cs", SearchOption.AllDirectories)
            .SelectMany(file => KernelLoad.Matches(File.ReadAllText(file)))
            .Select(m => (Name: $"{m.Groups[2].Value}.{m.Groups[3].Value}",
                Grouping: m.Groups[1].Value.StartsWith("LoadAutoGrouped", StringComparison.Ordinal) ? KernelGrouping.Implicit : KernelGrouping.Explicit))
            .ToHashSet();
        Assert.That(loaded, Has.Count.GreaterThanOrEqualTo(10), "the source scan found too few kernel loads; has the loading code changed shape?");
        var cataloged = KernelCatalog.All.Select(k => (k.Name, k.Grouping)).ToHashSet();
        Assert.Multiple(() =>
        {
            Assert.That(loaded.Except(cataloged), Is.Empty, "loaded by the sources but missing from KernelCatalog (or listed with another grouping)");
            Assert.That(cataloged.Except(loaded), Is.Empty, "in KernelCatalog but loaded nowhere");
        });
    }

    [Test]
    public void ExplicitlyGroupedKernelsHaveAGroupSizeAndImplicitOnesNone()
    {
        foreach (var kernel in KernelCatalog.All)
        {
            Assert.That(kernel.Method.IsStatic, kernel.Name);
            if (kernel.Grouping == KernelGrouping.Explicit)
                Assert.That(kernel.GroupSize, Is.InRange(32, 1024), kernel.Name);
            else
                Assert.That(kernel.GroupSize, Is.Null, kernel.Name);
        }
    }
}
