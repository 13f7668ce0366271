using GpuAutoencoder.KernelReport;

namespace GpuAutoencoder.Tests;

/// <summary>
/// The H200 occupancy model of the kernel report, against figures worked out by hand from the
/// sm_90 limits (65,536 registers allocated 256 a warp, 228 KB shared memory with 1 KB reserved a
/// block, 64 warps and 32 blocks an SM).
/// </summary>
public class OccupancyTests
{
    // 79 registers → 2,560 a warp → 25 warps by registers → 3 blocks of 8 warps; 9,728 B of shared
    // memory a block would allow 24; so 24 warps.
    [TestCase(79, 8704, 256, 24)]
    // 39 registers → 1,280 a warp → 51 warps → 12 blocks of 4.
    [TestCase(39, 1536, 128, 48)]
    // 100 KB of shared memory + 1 KB reserved: two blocks fit in 228 KB, whatever the registers allow.
    [TestCase(32, 102400, 128, 8)]
    // 8,192 registers a warp · 32 warps exceeds the 65,536 a block may have: it cannot launch.
    [TestCase(255, 0, 1024, 0)]
    // Few registers, small blocks: the 32-block limit binds (32 blocks of 1 warp).
    [TestCase(16, 0, 32, 32)]
    public void WarpsPerMultiprocessor(int registers, int sharedBytes, int blockThreads, int expectedWarps) =>
        Assert.That(Occupancy.WarpsPerMultiprocessor(registers, sharedBytes, blockThreads), Is.EqualTo(expectedWarps));

    // 70 registers → 2,304 a warp → 28 warps fit: one block of 896 threads or two of 448 keep as many
    // resident, and the driver's rule takes the larger; 1,024 threads would need 73,728 registers.
    [TestCase(70, 0, 896)]
    // 32 registers: two blocks of 1,024 fill all 64 warps.
    [TestCase(32, 0, 1024)]
    public void AutoBlockThreadsPicksTheLargestBlockOfMostResidentThreads(int registers, int sharedBytes, int expected) =>
        Assert.That(Occupancy.AutoBlockThreads(registers, sharedBytes), Is.EqualTo(expected));
}
