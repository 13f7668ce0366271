using System.Runtime.CompilerServices;

// The tests drive the training step's phases directly, as the benchmark does.
[assembly: InternalsVisibleTo("GpuAutoencoder.Tests")]
