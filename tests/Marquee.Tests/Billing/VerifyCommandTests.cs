using System.Net;
using Marquee.Billing;
using Marquee.Billing.Data;
using Marquee.Cli;
using Marquee.Tests.Rights;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Billing;

/// <summary><c>marquee billing verify</c>: totals per account type and currency, exit 0 when balanced, 1 on a discrepancy.</summary>
public sealed class VerifyCommandTests(HlsStub package) : IClassFixture<HlsStub>
{
    [Fact]
    public async Task Verify_PrintsTotals_AndFailsOnATamperedLedger()
    {
        await using var app = await BillingHost.StartAsync(package, requireEntitlement: false);
        await app.CreatePlanAsync("basic", "Monthly", 999);
        var viewer = await app.ViewerAsync();
        using (var c = await viewer.ClientAsync())
        {
            await (await c.PostKeyedAsync("/api/billing/checkout", new { plan = "basic", currency = "EUR", card = SandboxGateway.Success, country = "DE" }, "v")).JsonAsync(HttpStatusCode.Created);
        }

        var (code, stdout, stderr) = await MarqueeProcess.RunAsync(["billing", "verify"], app.Storage.Environment());
        Assert.True(code == MarqueeCommandLine.Ok, stderr);
        Assert.Contains("balanced and in agreement", stdout, StringComparison.Ordinal);
        Assert.Matches(@"Asset\s+cash\s+EUR\s+1147\s+0\s+1147", stdout);
        Assert.Contains("Total Revenue EUR: 999", stdout, StringComparison.Ordinal);

        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<BillingDb>();
            var table = db.Database.IsNpgsql() ? "billing.ledger" : "billing_ledger";
            var sql = $"UPDATE {table} SET \"Debit\" = \"Debit\" + 1 WHERE \"Account\" = 'cash'";
            return await db.Database.ExecuteSqlRawAsync(sql);
        });

        (code, _, stderr) = await MarqueeProcess.RunAsync(["billing", "verify"], app.Storage.Environment());
        Assert.Equal(MarqueeCommandLine.Failed, code);
        Assert.Contains("does not balance in EUR: debits 1190, credits 1189", stderr, StringComparison.Ordinal);
    }
}
