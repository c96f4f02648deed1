using Marquee.Platform.Data;
using Marquee.Platform.Web;

namespace Marquee.Identity.Risk;

/// <summary>Registration of the sign-up risk scorer and its console API.</summary>
internal static class RiskApi
{
    /// <summary>The one answer to a blocked sign-up (says nothing about why).</summary>
    public const string BlockedDetail = "We could not accept this sign-up right now. Try again later, or contact support.";

    public static IServiceCollection AddSignUpRisk(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddModuleDb<RiskDb, SqliteRiskDb, PostgresRiskDb>(configuration);
        services.AddOptions<RiskOptions>().Bind(configuration.GetSection(RiskOptions.Section)).ValidateDataAnnotations()
            .Validate(o => o.BlockThreshold > o.ChallengeThreshold, "Marquee:Identity:Risk:BlockThreshold must be above ChallengeThreshold.")
            .ValidateOnStart();
        services.AddScoped<SignUpRisk>();
        services.AddConsoleLink("Identity", "Sign-up risk", "/console/identity/risk");
        return services;
    }

    public static void MapSignUpRisk(this RouteGroupBuilder group)
    {
        group.MapGet("/risk/decisions", async (SignUpRisk risk, RiskOutcome? outcome, int? take, CancellationToken ct) =>
                TypedResults.Ok((await risk.RecentAsync(outcome, take ?? 200, ct)).Select(d => new RiskDecisionView(
                    d.Id, d.At, d.Email, d.Ip, d.Subnet, d.UserAgent, d.Score, d.Outcome, d.Reasons.Split('\n'), d.HeldUntil))))
            .RequireAuthorization(Policies.ConsoleAdmin)
            .WithTags("Identity: sign-up risk")
            .WithName("ListSignUpRiskDecisions")
            .WithSummary("The newest sign-up risk decisions (default 200, at most 1000), optionally of one outcome: score, outcome and the reasons.");
    }

    /// <summary>Answers to a sign-up that the scorer stopped, or null to go on.</summary>
    public static IResult? Refusal(RiskAssessment assessment) => assessment.Outcome switch
    {
        RiskOutcome.Throttled => new TooManySignUps(),
        RiskOutcome.Blocked => IdentityModule.Problem(StatusCodes.Status403Forbidden, "Sign-up not accepted", BlockedDetail, "sign-up-refused"),
        _ => null,
    };

    private sealed class TooManySignUps : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = "60";
            return IdentityModule.Problem(StatusCodes.Status429TooManyRequests, "Too many sign-ups", "Too many sign-ups from your network. Wait a minute, then try again.", "too-many-sign-ups")
                .ExecuteAsync(httpContext);
        }
    }
}

internal sealed record RiskDecisionView(Guid Id, DateTimeOffset At, string Email, string? Ip, string? Subnet, string? UserAgent, int Score, RiskOutcome Outcome, string[] Reasons, DateTimeOffset? HeldUntil);
