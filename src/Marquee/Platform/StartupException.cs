namespace Marquee.Platform;

/// <summary>A problem that stops start-up; its message is one readable line for the operator.</summary>
public sealed class StartupException : Exception
{
    public StartupException(string message) : base(message) { }

    public StartupException(string message, Exception inner) : base(message, inner) { }

    public StartupException() { }

    public IReadOnlyList<string> Problems { get; init; } = [];
}
