// The tests use selftest's own TF32 tolerance, so both hold the kernel to one bound.
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("GpuAutoencoder.Tests")]
