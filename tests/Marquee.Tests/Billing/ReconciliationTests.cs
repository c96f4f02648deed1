using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Marquee.Billing;
using Marquee.Tests.Rights;
using Marquee.Tests.Support;

namespace Marquee.Tests.Billing;

/// <summary>
/// Reconciliation (A5.4): the sandbox's own settlement report matches every payment; a report with one line missing,
/// one duplicated and one with a wrong amount yields exactly those three mismatches; a wrong fee and a charge Marquee does
/// not know are named too; finance resolves a mismatch with a note. SQLite and PostgreSQL.
/// </summary>
public sealed class ReconciliationTests(HlsStub package) : IClassFixture<HlsStub>
{
    private static readonly DateTimeOffset From = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset To = new(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Import_MissingDuplicatedAndWrongAmountLines_YieldsExactlyThoseThreeMismatches()
    {
        await using var app = await BillingHost.StartAsync(package, requireEntitlement: false);
        await app.CreatePlanAsync("basic", "Monthly", 999);
        var charges = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var viewer = await app.ViewerAsync();
            using var client = await viewer.ClientAsync();
            await (await client.PostKeyedAsync("/api/billing/checkout", new { plan = "basic", currency = "EUR", card = SandboxGateway.Success, country = "DE" }, $"k{i}"))
                .JsonAsync(HttpStatusCode.Created);
        }

        var report = await app.Client.GetStringAsync("/api/billing/sandbox/settlement");
        var lines = report.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Reconciler.Header, lines[0]);
        Assert.Equal(5, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.StartsWith("charge,ch_", l, StringComparison.Ordinal));

        // The gateway's own report, untouched: every payment matched.
        var clean = await ImportAsync(app, report);
        Assert.Equal(4, clean.GetProperty("lines").GetInt32());
        Assert.Equal(4, clean.GetProperty("matched").GetInt32());
        Assert.Empty(clean.GetProperty("mismatches").EnumerateArray());

        string Id(string line) => line.Split(',')[1];
        var (missing, duplicated, wrong, fine) = (lines[1], lines[2], lines[3], lines[4]);
        var parts = wrong.Split(',');
        parts[2] = (long.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture) + 100).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var tampered = string.Join('\n', lines[0], duplicated, duplicated, string.Join(',', parts), fine) + "\n";

        var run = await ImportAsync(app, tampered);
        var mismatches = run.GetProperty("mismatches").EnumerateArray().Select(m => (Kind: m.GetProperty("kind").GetString(), Charge: m.GetProperty("chargeId").GetString())).ToList();
        Assert.Equal(3, mismatches.Count);
        Assert.Contains(("Missing", Id(missing)), mismatches);
        Assert.Contains(("Duplicated", Id(duplicated)), mismatches);
        Assert.Contains(("AmountDiffers", Id(wrong)), mismatches);
        Assert.Equal(3, run.GetProperty("open").GetInt32());

        // Resolved by finance with a note: it leaves the open count, and the console lists what is open.
        var amount = run.GetProperty("mismatches").EnumerateArray().First(m => m.GetProperty("kind").GetString() == "AmountDiffers");
        Assert.Equal(HttpStatusCode.BadRequest, (await app.Client.PostAsJsonAsync($"/api/billing/reconciliations/mismatches/{amount.GetProperty("id").GetGuid()}/resolve", new { note = "" })).StatusCode);
        var resolved = await (await app.Client.PostAsJsonAsync($"/api/billing/reconciliations/mismatches/{amount.GetProperty("id").GetGuid()}/resolve", new { note = "Gateway error, confirmed by their support" }))
            .JsonAsync(HttpStatusCode.OK);
        Assert.Equal("Gateway error, confirmed by their support", resolved.GetProperty("resolution").GetString());
        var again = await app.Client.GetFromJsonAsync<JsonElement>($"/api/billing/reconciliations/{run.GetProperty("id").GetGuid()}");
        Assert.Equal(2, again.GetProperty("open").GetInt32());
        var console = await app.Client.GetStringAsync("/console/billing/reconciliation");
        Assert.Contains(Id(missing), console, StringComparison.Ordinal);
        Assert.Contains(Id(duplicated), console, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Import_WrongFeeUnknownChargeOrGarbage_SaysSo()
    {
        await using var app = await BillingHost.StartAsync(package, requireEntitlement: false);
        await app.CreatePlanAsync("basic", "Monthly", 999);
        var viewer = await app.ViewerAsync();
        using var client = await viewer.ClientAsync();
        await (await client.PostKeyedAsync("/api/billing/checkout", new { plan = "basic", currency = "EUR", card = SandboxGateway.Success, country = "DE" }, "k")).JsonAsync(HttpStatusCode.Created);
        var lines = (await app.Client.GetStringAsync("/api/billing/sandbox/settlement")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var parts = lines[1].Split(',');
        parts[3] = "999";
        var report = string.Join('\n', lines[0], string.Join(',', parts), "charge,ch_nobodyknows,500,32,468,EUR,2026-11-01T10:00:00Z") + "\n";

        var run = await ImportAsync(app, report);
        var kinds = run.GetProperty("mismatches").EnumerateArray().Select(m => m.GetProperty("kind").GetString()).Order().ToList();
        Assert.Equal(["FeeDiffers", "Unknown"], kinds);

        using var garbage = new StringContent("type,charge_id,amount,fee,net,currency,created_utc\ncharge,ch_x,ten,0,0,EUR,2026-11-01T10:00:00Z\n", Encoding.UTF8, "text/csv");
        var refused = await app.Client.PostAsync($"/api/billing/reconciliations?from={Q(From)}&to={Q(To)}", garbage);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("line 2", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static string Q(DateTimeOffset at) => Uri.EscapeDataString(at.ToString("O", System.Globalization.CultureInfo.InvariantCulture));

    private static async Task<JsonElement> ImportAsync(MarqueeApp app, string csv)
    {
        using var content = new StringContent(csv, Encoding.UTF8, "text/csv");
        return await (await app.Client.PostAsync($"/api/billing/reconciliations?from={Q(From)}&to={Q(To)}&fileName=test.csv", content)).JsonAsync(HttpStatusCode.Created);
    }
}
