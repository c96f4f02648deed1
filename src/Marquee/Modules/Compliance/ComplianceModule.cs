using Marquee.Platform.Audit;
using Marquee.Compliance.Data;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Privacy;
using Marquee.Platform.Web;

namespace Marquee.Compliance;

/// <summary>Compliance: for now the append-only audit log that every module writes through <see cref="IAuditLog"/>.</summary>
public static class ComplianceModule
{
    public static IServiceCollection AddCompliance(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddModuleDb<ComplianceDb, SqliteComplianceDb, PostgresComplianceDb>(configuration);
        services.AddScoped<AuditLog>();
        services.AddScoped<IAuditLog>(sp => sp.GetRequiredService<AuditLog>());
        services.AddEventHandler<AuditRequested, AuditLog>();
        services.AddEventHandler<Marquee.Identity.Contracts.SecurityEvent, SecurityEvents>();
        services.AddPersonalData<CompliancePrivacy>();
        services.AddEventHandler<Marquee.Identity.Contracts.AccountDeleted, CompliancePrivacy>();
        services.AddConsoleLink("Compliance", "Audit log", "/console/compliance/audit");
        services.AddConsoleFigures<ComplianceFigures>();
        return services;
    }

    /// <summary>
    /// For <c>marquee audit verify</c>: walks the audit log's hash chain. Lines checked, lines from before the chain,
    /// the head (sequence and hash), and the first problem (null when intact), the head file outside the database included.
    /// </summary>
    public static async Task<(long Lines, int Unchained, long HeadSequence, string HeadHash, string? Problem, int Anchors, string HeadFile)> VerifyAuditAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        await using var scope = services.CreateAsyncScope();
        var headFile = AuditHeadFile.PathIn(scope.ServiceProvider.GetRequiredService<Microsoft.Extensions.Options.IOptions<Marquee.Platform.MarqueeOptions>>().Value);
        var result = await AuditChainHash.VerifyAsync(scope.ServiceProvider.GetRequiredService<ComplianceDb>(), cancellationToken, headFile);
        return (result.Lines, result.Unchained, result.Head.Sequence, result.Head.Hash, result.Problem, result.Anchors, headFile);
    }

    public static RouteGroupBuilder MapCompliance(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("").WithTags("Compliance").RequireAuthorization(Policies.ConsoleCompliance);

        group.MapGet("/audit", async (AuditLog auditLog, string? action, string? actor, int? take, CancellationToken ct) =>
                TypedResults.Ok(await auditLog.ListAsync(action, actor, take ?? 100, ct)))
            .WithName("ListAuditEntries")
            .WithSummary("The audit log, newest first (operators).");

        return group;
    }
}

/// <summary>An audit line as the API shows it.</summary>
internal sealed record AuditLine(long Id, DateTimeOffset At, string Actor, string Action, string Target, string? From, string? Details);
