using System.Runtime.CompilerServices;

// The tests reach the TF32 kernel's CPU emulation (DeviceKernels.EmulatingTf32), which users never should.
[assembly: InternalsVisibleTo("GpuAutoencoder.Tests")]
