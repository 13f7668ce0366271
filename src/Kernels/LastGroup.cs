namespace GpuAutoencoder.Kernels;

/// <summary>
/// How a reduction finishes in the launch that computed its partials, without a second launch and
/// without a float atomic: each group writes its partials, counts itself in on an integer counter,
/// and the group that arrives last adds every partial in a fixed order. Which group is last varies
/// from run to run; the order of the additions does not, so results are deterministic.
/// </summary>
public static class LastGroup
{
    /// <summary>
    /// Counts the calling group in; every thread of the group must call it, after writing its
    /// partials. Returns, in every thread, whether this group is the last of <paramref name="groups"/>
    /// to arrive on <paramref name="counter"/>; the last one has already reset the counter to 0 for
    /// the next launch. <paramref name="flag"/> is one int of the group's shared memory.
    /// </summary>
    public static bool Arrive(ArrayView<int> counter, int groups, ArrayView<int> flag)
    {
        // Every thread reaches both fences: ILGPU writes a device fence for OpenCL as a work-group
        // barrier, which a fence inside a branch would leave unmet (PoCL then never wrote the result).
        // This one makes each writer's partials visible device-wide before the group counts itself in.
        MemoryFence.DeviceLevel();
        Group.Barrier();
        if (Group.IsFirstThread)
        {
            bool last = Atomic.Add(ref counter[0], 1) == groups - 1;
            // Every group has counted itself in: nothing else touches the counter in this launch.
            if (last) counter[0] = 0;
            flag[0] = last ? 1 : 0;
        }
        Group.Barrier();
        bool isLast = flag[0] != 0;
        // This one makes the other groups' partials visible to the last group before it reads them.
        MemoryFence.DeviceLevel();
        return isLast;
    }
}
