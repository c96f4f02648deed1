using System.Net;
using Microsoft.AspNetCore.Authorization;

namespace Marquee.Platform.Web;

/// <summary>Authorization policy names used by endpoints and pages.</summary>
public static class Policies
{
    /// <summary>
    /// Operator console and operator APIs. Until accounts and roles exist, only requests from this machine
    /// (loopback, not forwarded by a proxy for someone else) are operators.
    /// </summary>
    public const string Console = "console";

    /// <summary>The metrics scrape endpoint: operators, or a configured scrape address.</summary>
    public const string Metrics = "metrics";

    internal static void Add(AuthorizationBuilder builder)
    {
        builder.AddPolicy(Console, p => p.AddRequirements(new LocalOperatorRequirement()));
        builder.AddPolicy(Metrics, p => p.AddRequirements(new MetricsScrapeRequirement()));
    }
}

/// <summary>Satisfied by a request that comes from loopback itself: the only operator until Identity lands.</summary>
internal sealed class LocalOperatorRequirement : IAuthorizationRequirement;

internal sealed class MetricsScrapeRequirement : IAuthorizationRequirement;

internal sealed class LocalOperatorHandler(IHttpContextAccessor accessor) : IAuthorizationHandler
{
    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        var http = context.Resource as HttpContext ?? accessor.HttpContext;
        if (http is not null && RequestActor.IsLocal(http))
        {
            foreach (var requirement in context.PendingRequirements.OfType<LocalOperatorRequirement>().ToList())
            {
                context.Succeed(requirement);
            }
        }

        return Task.CompletedTask;
    }
}

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
