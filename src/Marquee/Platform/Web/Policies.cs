using System.Net;
using Microsoft.AspNetCore.Authorization;

namespace Marquee.Platform.Web;

/// <summary>The account roles (the Identity module stores them; policies and pages name them from here).</summary>
public static class Roles
{
    /// <summary>Every account that signed up: watches, nothing in the console.</summary>
    public const string Viewer = "viewer";

    /// <summary>Every console page and operator API.</summary>
    public const string Admin = "admin";

    public const string Content = "content";
    public const string Finance = "finance";
    public const string Moderator = "moderator";
    public const string Support = "support";
    public const string Marketing = "marketing";
    public const string Compliance = "compliance";

    /// <summary>The roles that open the operator console.</summary>
    public static readonly IReadOnlyList<string> Operators = [Admin, Content, Finance, Moderator, Support, Marketing, Compliance];

    public static readonly IReadOnlyList<string> All = [Viewer, .. Operators];
}

/// <summary>Authorization policy names used by endpoints and pages.</summary>
public static class Policies
{
    /// <summary>Operator console and operator APIs: a signed-in account with any operator role (admin among them).</summary>
    public const string Console = "console";

    /// <summary>Catalogue and media work in the console: admin or content.</summary>
    public const string ConsoleContent = "console-content";

    /// <summary>The audit log and other compliance pages: admin or compliance.</summary>
    public const string ConsoleCompliance = "console-compliance";

    /// <summary>Plans, invoices, refunds and the ledger: admin or finance.</summary>
    public const string ConsoleFinance = "console-finance";

    /// <summary>Only admins: accounts and roles, platform settings.</summary>
    public const string ConsoleAdmin = "console-admin";

    /// <summary>The metrics scrape endpoint: operators, or this machine (a local Prometheus), or a configured scrape address.</summary>
    public const string Metrics = "metrics";

    internal static void Add(AuthorizationBuilder builder)
    {
        builder.AddPolicy(Console, p => p.RequireAuthenticatedUser().RequireRole(Roles.Operators));
        builder.AddPolicy(ConsoleContent, p => p.RequireAuthenticatedUser().RequireRole(Roles.Admin, Roles.Content));
        builder.AddPolicy(ConsoleCompliance, p => p.RequireAuthenticatedUser().RequireRole(Roles.Admin, Roles.Compliance));
        builder.AddPolicy(ConsoleFinance, p => p.RequireAuthenticatedUser().RequireRole(Roles.Admin, Roles.Finance));
        builder.AddPolicy(ConsoleAdmin, p => p.RequireAuthenticatedUser().RequireRole(Roles.Admin));
        builder.AddPolicy(Metrics, p => p.AddRequirements(new MetricsScrapeRequirement()));
    }
}

internal sealed class MetricsScrapeRequirement : IAuthorizationRequirement;

internal sealed class MetricsScrapeHandler(IHttpContextAccessor accessor, Microsoft.Extensions.Options.IOptionsMonitor<WebOptions> options, IHostEnvironment environment) : IAuthorizationHandler
{
    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        var http = context.Resource as HttpContext ?? accessor.HttpContext;
        foreach (var requirement in context.PendingRequirements.OfType<MetricsScrapeRequirement>().ToList())
        {
            if (http is null)
            {
                continue;
            }

            var remote = http.Connection.RemoteIpAddress;
            var allowed = environment.IsDevelopment()
                          || RequestActor.IsLocal(http)
                          || Roles.Operators.Any(context.User.IsInRole)
                          || (remote is not null && options.CurrentValue.ScrapeAddresses.Any(a =>
                              IPAddress.TryParse(a, out var ip) && ip.Equals(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote)));
            if (allowed)
            {
                context.Succeed(requirement);
            }
        }

        return Task.CompletedTask;
    }
}
