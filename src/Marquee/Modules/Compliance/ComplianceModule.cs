using Marquee.Compliance.Contracts;
using Marquee.Compliance.Data;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Web;
using Microsoft.EntityFrameworkCore;

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
        return services;
    }

    public static RouteGroupBuilder MapCompliance(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("").WithTags("Compliance").RequireAuthorization(Policies.Console);

        group.MapGet("/audit", async (ComplianceDb db, string? action, string? actor, int? take, CancellationToken ct) =>
            {
                var query = db.AuditEntries.AsNoTracking();
                if (!string.IsNullOrWhiteSpace(action))
                {
                    query = query.Where(a => a.Action == action);
                }

                if (!string.IsNullOrWhiteSpace(actor))
                {
                    query = query.Where(a => a.Actor == actor);
                }

                var rows = await query.OrderByDescending(a => a.Id).Take(Math.Clamp(take ?? 100, 1, 1000))
                    .Select(a => new AuditLine(a.Id, a.At, a.Actor, a.Action, a.Target, a.From, a.Details))
                    .ToListAsync(ct);
                return TypedResults.Ok(rows);
            })
            .WithName("ListAuditEntries")
            .WithSummary("The audit log, newest first (operators).");

        return group;
    }
}

/// <summary>An audit line as the API shows it.</summary>
internal sealed record AuditLine(long Id, DateTimeOffset At, string Actor, string Action, string Target, string? From, string? Details);
