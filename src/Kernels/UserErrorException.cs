namespace GpuAutoencoder.Kernels;

/// <summary>
/// A mistake the user can put right: an option, a file a reader refused, a device this machine lacks or
/// that is too small. The message is one line naming the file or option and the problem, fit to show as
/// is, so the command line catches this one type and exits 2 whichever layer threw it. It lives here, in
/// the lowest project, only so that every layer can derive from it; it says nothing of what they check.
/// </summary>
public abstract class UserErrorException(string message, Exception? inner = null) : Exception(message, inner);
