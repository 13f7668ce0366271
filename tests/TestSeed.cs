using System.Text;
using NUnit.Framework.Interfaces;

[assembly: GpuAutoencoder.Tests.PrintSeedOnFailure]

namespace GpuAutoencoder.Tests;

/// <summary>
/// Seeds for the tests' random inputs: fixed by default so a run repeats, and moved as a whole by
/// GPUAE_TEST_SEED=N to try other inputs. Each test draws from its own seed, the base combined
/// with the test's full name, so adding or reordering tests does not change another test's inputs.
/// </summary>
public static class TestSeed
{
    public const string EnvVar = "GPUAE_TEST_SEED";
    const int DefaultBase = 20260101;

    public static int Base { get; } = int.TryParse(Environment.GetEnvironmentVariable(EnvVar), out var s) ? s : DefaultBase;

    /// <summary>The seed of the test named <paramref name="name"/>: FNV-1a of the name, mixed with <see cref="Base"/>.</summary>
    public static int For(string name)
    {
        uint h = 2166136261;
        foreach (byte b in Encoding.UTF8.GetBytes(name)) h = (h ^ b) * 16777619;
        return (int)(h ^ (uint)Base * 0x9E3779B1u) & int.MaxValue;
    }

    /// <summary>The running test's seed.</summary>
    public static int Current => For(TestContext.CurrentContext.Test.FullName);

    /// <summary>A generator seeded with the running test's seed.</summary>
    public static Random Random() => new(Current);

    /// <summary>How to rerun with the same inputs, for failure messages.</summary>
    public static string Describe() => $"test seed {Current} ({EnvVar}={Base})";
}

/// <summary>Prints the seeds of a failed test, so its random inputs can be had again.</summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class PrintSeedOnFailureAttribute : Attribute, ITestAction
{
    public ActionTargets Targets => ActionTargets.Test;

    public void BeforeTest(ITest test) { }

    public void AfterTest(ITest test)
    {
        if (TestContext.CurrentContext.Result.Outcome.Status == TestStatus.Failed)
            TestContext.Out.WriteLine($"{test.FullName} failed with {TestSeed.Describe()}; rerun it with {TestSeed.EnvVar}={TestSeed.Base}");
    }
}
