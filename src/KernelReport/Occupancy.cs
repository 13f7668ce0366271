namespace GpuAutoencoder.KernelReport;

/// <summary>
/// Resident warps per multiprocessor of an H200 (compute capability 9.0), the way CUDA's occupancy
/// calculator counts them: whichever of registers, shared memory, warps and blocks runs out first.
/// </summary>
public static class Occupancy
{
    public const int RegistersPerSm = 65536, RegisterGranularity = 256, RegistersPerBlock = 65536;
    public const int SharedBytesPerSm = 228 * 1024, SharedBytesPerBlock = 227 * 1024, ReservedSharedPerBlock = 1024, SharedGranularity = 128;
    public const int WarpsPerSm = 64, BlocksPerSm = 32, WarpSize = 32, MaxThreadsPerBlock = 1024;

    /// <summary>Resident blocks per multiprocessor; 0 where one block does not fit at all.</summary>
    public static int BlocksPerMultiprocessor(int registersPerThread, int sharedBytes, int blockThreads)
    {
        int warps = CeilDiv(blockThreads, WarpSize);
        int byWarps = WarpsPerSm / warps;
        int byRegisters = BlocksPerSm;
        if (registersPerThread > 0)
        {
            int registersPerWarp = CeilDiv(registersPerThread * WarpSize, RegisterGranularity) * RegisterGranularity;
            if (registersPerWarp * warps > RegistersPerBlock) return 0;
            byRegisters = RegistersPerSm / registersPerWarp / warps;
        }
        if (sharedBytes > SharedBytesPerBlock) return 0;
        int sharedPerBlock = CeilDiv(sharedBytes + ReservedSharedPerBlock, SharedGranularity) * SharedGranularity;
        int byShared = SharedBytesPerSm / sharedPerBlock;
        return Math.Min(Math.Min(byWarps, BlocksPerSm), Math.Min(byRegisters, byShared));
    }

    public static int WarpsPerMultiprocessor(int registersPerThread, int sharedBytes, int blockThreads) =>
        BlocksPerMultiprocessor(registersPerThread, sharedBytes, blockThreads) * CeilDiv(blockThreads, WarpSize);

    /// <summary>
    /// The group size ILGPU picks for an implicitly grouped kernel on CUDA, which asks
    /// cuOccupancyMaxPotentialBlockSize: the largest block size, in whole warps up to 1024 threads,
    /// among those that keep the most threads resident.
    /// </summary>
    public static int AutoBlockThreads(int registersPerThread, int sharedBytes)
    {
        int best = WarpSize, bestThreads = -1;
        for (int threads = MaxThreadsPerBlock; threads >= WarpSize; threads -= WarpSize)
        {
            int resident = BlocksPerMultiprocessor(registersPerThread, sharedBytes, threads) * threads;
            if (resident > bestThreads) (best, bestThreads) = (threads, resident);
        }
        return best;
    }

    static int CeilDiv(int a, int b) => (a + b - 1) / b;
}
