using ILGPU;
using ILGPU.Runtime;
using GpuAutoencoder.Figures;
using GpuAutoencoder.Kernels;
using GpuAutoencoder.ModelFiles;
using GpuAutoencoder.Training;
using GpuAutoencoder.Training.Data;
using GpuAutoencoder.Training.Model;

namespace GpuAutoencoder.Cli;

/// <summary>A trained model on the chosen accelerator and one MNIST split: what every figure command starts from.</summary>
public sealed class InferenceSession : IDisposable
{
    readonly Context context;
    readonly Accelerator accelerator;
    readonly DeviceKernels kernels;

    public DeviceModel Model { get; }
    public MnistSet Set { get; }
    public string SplitName { get; }
    public string ModelName { get; }
    public string AcceleratorName { get; }

    /// <summary>Checks the model and the data before the accelerator is started, so bad input fails fast.</summary>
    public InferenceSession(string modelPath, string? dataOption, MnistSplit split, AcceleratorKind acceleratorKind)
    {
        if (!File.Exists(modelPath)) throw new UsageException($"--model: no such file {modelPath}");
        var (layout, flat, _) = ModelFile.Load(modelPath);
        (Set, _) = DataCommand.Load(dataOption, split);
        SplitName = CommonOptions.Spelling(split);
        ModelName = Path.GetFileName(modelPath);
        context = Accelerators.CreateContext();
        accelerator = Accelerators.Create(context, acceleratorKind);
        AcceleratorName = Accelerators.Name(accelerator.AcceleratorType);
        kernels = new DeviceKernels(accelerator);
        Model = new DeviceModel(kernels, layout, flat);
    }

    (Evaluation Evaluation, float[] Codes)? evaluated;

    /// <summary>The model over the whole split, run once per session however many figures need it.</summary>
    public Evaluation Evaluate(out float[] codes)
    {
        if (evaluated == null)
        {
            using var images = Model.Upload(Set.Images, Set.Count);
            var (errors, c) = Model.Evaluate(images);
            evaluated = (Evaluation.From(errors, c, Set.Labels, Architecture.Pixels), c);
        }
        codes = evaluated.Value.Codes;
        return evaluated.Value.Evaluation;
    }

    public void Dispose()
    {
        Model.Dispose();
        kernels.Dispose();
        accelerator.Dispose();
        context.Dispose();
    }
}
