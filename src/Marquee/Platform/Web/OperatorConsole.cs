namespace Marquee.Platform.Web;

/// <summary>A module's entry in the operator console's navigation, under the module's name.</summary>
/// <param name="Module">The module's name as the navigation shows it, e.g. <c>Catalog</c>.</param>
/// <param name="Text">The link text, e.g. <c>Titles</c>.</param>
/// <param name="Href">A path under <c>/console/&lt;module&gt;</c>.</param>
public sealed record ConsoleLink(string Module, string Text, string Href);

/// <summary>A number a module shows on the console overview, e.g. how many titles there are.</summary>
public sealed record ConsoleFigure(string Module, string Label, long Value, string? Href = null);

/// <summary>Implemented by a module that shows figures on the console overview; resolved per request.</summary>
public interface IConsoleFigures
{
    Task<IReadOnlyList<ConsoleFigure>> ReadAsync(CancellationToken cancellationToken);
}

public static class OperatorConsoleRegistration
{
    /// <summary>Adds a link to the console navigation: modules appear in alphabetical order, their links in registration order.</summary>
    public static IServiceCollection AddConsoleLink(this IServiceCollection services, string module, string text, string href) =>
        services.AddSingleton(new ConsoleLink(module, text, href));

    /// <summary>Adds a module's figures to the console overview.</summary>
    public static IServiceCollection AddConsoleFigures<T>(this IServiceCollection services)
        where T : class, IConsoleFigures =>
        services.AddScoped<IConsoleFigures, T>();
}
