namespace GpuAutoencoder.Diagnostics;

/// <summary>What a <see cref="LaunchFloor"/> charges a launch: its work at these rates, plus <paramref name="LaunchSeconds"/>.</summary>
/// <param name="PeakFlops">Floating-point operations per second.</param>
/// <param name="Bandwidth">Bytes per second to and from device memory.</param>
/// <param name="LaunchSeconds">What one launch costs the stream on its own, whatever its work.</param>
public readonly record struct LaunchCosts(double PeakFlops, double Bandwidth, double LaunchSeconds)
{
    /// <summary>The H200's, by <see cref="LaunchFloor"/>'s constants.</summary>
    public static LaunchCosts H200 => new(LaunchFloor.H200Fp32, LaunchFloor.H200Bandwidth, LaunchFloor.LaunchOverhead);
}
