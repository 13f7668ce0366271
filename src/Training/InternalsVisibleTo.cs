using System.Runtime.CompilerServices;

// The tests and the benchmark drive the training step's phases directly.
[assembly: InternalsVisibleTo("GpuAutoencoder.Tests")]
[assembly: InternalsVisibleTo("GpuAutoencoder.Diagnostics")]
