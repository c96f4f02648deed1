using Marquee.Compliance.Data;
using Marquee.Platform.Audit;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Compliance;

public sealed class AuditLogTests
{
    [Fact]
    public async Task AuditEntries_WhenChangedOrDeletedInTheDatabase_AreRefused()
    {
        await using var app = await MarqueeApp.StartAsync();
        await app.ScopedAsync(async sp =>
        {
            await sp.GetRequiredService<IAuditLog>().RecordAsync(new AuditRecord("ops", "tests.recorded", "thing:1", "127.0.0.1"), CancellationToken.None);
            return 0;
        });

        var update = await Record.ExceptionAsync(() => app.ScopedAsync(sp =>
        {
            var db = sp.GetRequiredService<ComplianceDb>();
            var sql = db.Database.IsNpgsql()
                ? "UPDATE compliance.audit_entries SET \"Actor\" = 'someone else'"
                : "UPDATE compliance_audit_entries SET \"Actor\" = 'someone else'";
            return db.Database.ExecuteSqlRawAsync(sql);
        }));
        var delete = await Record.ExceptionAsync(() => app.ScopedAsync(sp =>
        {
            var db = sp.GetRequiredService<ComplianceDb>();
            return db.Database.ExecuteSqlRawAsync(db.Database.IsNpgsql() ? "DELETE FROM compliance.audit_entries" : "DELETE FROM compliance_audit_entries");
        }));

        Assert.Contains("append-only", update?.Message, StringComparison.Ordinal);
        Assert.Contains("append-only", delete?.Message, StringComparison.Ordinal);
        var actors = await app.ScopedAsync(sp => sp.GetRequiredService<ComplianceDb>().AuditEntries.Select(a => a.Actor).ToListAsync());
        Assert.Equal(["ops"], actors);
    }
}
