using Marquee.Delivery.Contracts;
using Marquee.Platform;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Hosting;
using Marquee.Platform.Web;
using Marquee.Rights.Contracts;
using Marquee.Rights.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Marquee.Rights;

/// <summary>
/// Rights: licences and their windows (enforced at playback as an <see cref="IPlaybackPolicy"/>), expiry alerts,
/// providers and contracts with a hash-chained history, and royalty statements from play events and revenue.
/// </summary>
public static class RightsModule
{
    public static IServiceCollection AddRights(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RightsOptions>().Bind(configuration.GetSection(RightsOptions.Section));
        services.AddModuleDb<RightsDb, SqliteRightsDb, PostgresRightsDb>(configuration);
        services.AddScoped<Licences>();
        services.AddScoped<IPlaybackPolicy, LicencePolicy>();
        services.AddScoped<ExpiryAlerts>();
        services.AddScoped<IDemoContent, RightsDemo>();
        services.AddHostedService<RightsStartupLog>();
        services.AddConsoleLink("Rights", "Licences", "/console/rights");
        var marquee = configuration.GetSection(MarqueeOptions.Section).Get<MarqueeOptions>() ?? new MarqueeOptions();
        if (marquee.HasRole("worker"))
        {
            services.AddHostedService<ExpiryAlertWorker>();
        }

        return services;
    }

    public static RouteGroupBuilder MapRights(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("").WithTags("Rights").RequireAuthorization(Policies.Console);

        group.MapPost("/licences", async Task<Results<Created<LicenceView>, ProblemHttpResult>> (NewLicence input, Licences licences, HttpContext http, CancellationToken ct) =>
                await licences.CreateAsync(input, RequestActor.Of(http), ct) switch
                {
                    LicenceOutcome.Created c => TypedResults.Created($"/api/rights/licences/{c.Licence.Id}", c.Licence),
                    LicenceOutcome.Conflict c => TypedResults.Problem(title: "Overlapping exclusive licence", detail: c.Detail, statusCode: StatusCodes.Status409Conflict),
                    LicenceOutcome.Invalid i => TypedResults.Problem(title: "Invalid licence", detail: i.Detail, statusCode: StatusCodes.Status400BadRequest),
                    _ => throw new InvalidOperationException(),
                })
            .Validate<NewLicence>()
            .WithName("CreateLicence")
            .WithSummary("Grants titles for territories, a window [startsAt, endsAt) in UTC, platforms and service models (operators). 409 when exclusive and overlapping another exclusive licence.")
            .ProducesProblem(StatusCodes.Status409Conflict);

        group.MapGet("/licences", async (Licences licences, Guid? titleId, CancellationToken ct) => TypedResults.Ok(await licences.ListAsync(titleId, ct)))
            .WithName("ListLicences")
            .WithSummary("Licences, soonest ending first, optionally of one title (operators).");

        group.MapGet("/alerts", async (ExpiryAlerts alerts, CancellationToken ct) => TypedResults.Ok(await alerts.ListAsync(200, ct)))
            .WithName("ListExpiryAlerts")
            .WithSummary("Licence expiry alerts raised (30, 7 and 1 days ahead), newest first (operators).");

        return group;
    }
}

/// <summary>Says at start-up whether titles without a licence play.</summary>
internal sealed partial class RightsStartupLog(IOptions<RightsOptions> options, ILogger<RightsStartupLog> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.RequireLicence)
        {
            Log.Required(logger);
        }
        else
        {
            Log.NotRequired(logger);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Rights: titles without any licence are refused at playback (Marquee:Rights:RequireLicence=true)")]
        public static partial void Required(ILogger logger);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Rights: titles without any licence play everywhere; titles with licences are held to them (set Marquee:Rights:RequireLicence=true to refuse unlicensed titles)")]
        public static partial void NotRequired(ILogger logger);
    }
}
