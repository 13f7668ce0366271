using System.CommandLine;

namespace GpuAutoencoder.Cli;

/// <summary>
/// An option whose values are the members of <typeparamref name="T"/>, each typed as its name in lower case
/// (OpenCL: opencl); <c>order</c> is the order help and errors list them in, by default the enum's. Any other
/// word is a parse error, one line listing the accepted ones. Help would show a DefaultValueFactory's value
/// by its C# name (Auto), so the default is written into the description instead and <see cref="ValueIn"/>
/// supplies it when the option is left out.
/// </summary>
public sealed class ChoiceOption<T> : Option<T> where T : struct, Enum
{
    public T Default { get; }

    public ChoiceOption(string name, string[] aliases, string description, T defaultValue, params T[] order) : base(name, aliases)
    {
        var spelled = (order.Length > 0 ? order : Enum.GetValues<T>()).ToDictionary(CommonOptions.Spelling);
        Default = defaultValue;
        Description = $"{description} [default: {CommonOptions.Spelling(defaultValue)}]";
        CustomParser = r => spelled.GetValueOrDefault(r.Tokens.Count == 0 ? "" : r.Tokens[^1].Value);
        AcceptOnlyFromAmong([.. spelled.Keys]);
    }

    /// <summary>The value typed, or <see cref="Default"/>.</summary>
    public T ValueIn(ParseResult parse) => parse.GetResult(this) is { Implicit: false } ? parse.GetValue(this) : Default;
}
