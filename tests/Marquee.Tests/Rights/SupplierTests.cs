using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Marquee.Cli;
using Marquee.Delivery.Contracts;
using Marquee.Media.Contracts;
using Marquee.Platform.Web;
using Marquee.Rights.Data;
using Marquee.Tests.Catalog;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Rights;

/// <summary>Supplier scorecards (deliveries tracked to Media's asset library, rejections, plays) and signed documents in the hash chain.</summary>
public sealed class SupplierTests
{
    private static async Task<Guid> IdAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{response.StatusCode}: {body}");
        return JsonSerializer.Deserialize<JsonElement>(body).GetProperty("id").GetGuid();
    }

    private static async Task<Guid> ContractAsync(MarqueeApp app, string provider)
    {
        var providerId = await IdAsync(await app.PostJsonAsync("/api/rights/providers", new { name = provider, kind = "provider" }));
        return await IdAsync(await app.PostJsonAsync("/api/rights/contracts", new
        {
            providerId,
            contract = new { name = $"{provider} output deal", feeModel = "Flat", currency = "EUR", paymentSchedule = "OneOff", flatFee = 1000 },
        }));
    }

    private static async Task DeliverSourceAsync(MarqueeApp app, Guid titleId)
    {
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(Marquee.Tests.Media.AssetLibraryTests.Wav(1)), "file", "master.wav" },
            { new StringContent("Source"), "kind" },
            { new StringContent(titleId.ToString()), "titleId" },
        };
        Assert.Equal(HttpStatusCode.Created, (await app.Client.PostAsync("/api/media/library", form)).StatusCode);
    }

    [Fact]
    public async Task Scorecard_CountsOnTimeLateOverdueDeliveries_Rejections_AndPlays()
    {
        await using var app = await MarqueeApp.StartAsync(s => s["Marquee:Media:PollInterval"] = "00:00:00.100");
        var contract = await ContractAsync(app, "Northern Films");
        var idle = await ContractAsync(app, "Idle Pictures");
        var early = await app.CreateTitleAsync("Early Bird");
        var late = await app.CreateTitleAsync("Late Comer");
        var missing = await app.CreateTitleAsync("Never Came");
        var now = TimeProvider.System.GetUtcNow();

        foreach (var (title, due) in new[] { (early, now.AddDays(1)), (late, now.AddDays(-1)), (missing, now.AddDays(-2)) })
        {
            var scheduled = await app.PostJsonAsync($"/api/rights/contracts/{contract}/deliveries", new { titleId = title, dueAt = due });
            Assert.True(scheduled.StatusCode == HttpStatusCode.Created, await scheduled.Content.ReadAsStringAsync());
        }

        Assert.Equal(HttpStatusCode.Conflict, (await app.PostJsonAsync($"/api/rights/contracts/{contract}/deliveries", new { titleId = early, dueAt = now })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await app.PostJsonAsync($"/api/rights/contracts/{contract}/deliveries", new { titleId = Guid.NewGuid(), dueAt = now })).StatusCode);

        await DeliverSourceAsync(app, early);
        await DeliverSourceAsync(app, late);
        // A source of the late title the pipeline rejects: a quality rejection.
        var junk = Path.Combine(app.DataDir, "broken.mp4");
        await File.WriteAllBytesAsync(junk, Encoding.UTF8.GetBytes("broken master"));
        await app.ScopedAsync(sp => sp.GetRequiredService<IMediaIngest>().IngestFileAsync(junk, late, new RequestActor("tests", null), CancellationToken.None));

        // Plays of the provider's titles, as Delivery publishes them.
        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<RightsDb>();
            foreach (var (title, minutes) in new[] { (early, 30.0), (early, 15.0), (late, 45.0) })
            {
                var session = Guid.NewGuid();
                db.Publish(new PlaybackStarted(session, Guid.NewGuid(), Guid.NewGuid(), title, Guid.NewGuid(), ClientPlatform.Web, null, false, now.AddHours(-2)));
                db.Publish(new PlaybackEnded(session, Guid.NewGuid(), title, "stopped", minutes * 60, now.AddHours(-2).AddMinutes(minutes)));
            }

            return await db.SaveChangesAsync();
        });

        var card = await Poll.UntilAsync(
            async () => (await app.Client.GetFromJsonAsync<JsonElement>("/api/rights/scorecards")).EnumerateArray().Single(c => c.GetProperty("provider").GetString() == "Northern Films"),
            c => c.GetProperty("sourcesRejected").GetInt32() == 1 && c.GetProperty("minutesWatched").GetDecimal() == 90m,
            TimeSpan.FromSeconds(30), "the rejection and the plays in the scorecard");
        Assert.Equal(3, card.GetProperty("deliveriesScheduled").GetInt32());
        Assert.Equal(1, card.GetProperty("onTime").GetInt32());
        Assert.Equal(1, card.GetProperty("late").GetInt32());
        Assert.Equal(1, card.GetProperty("overdue").GetInt32());
        Assert.Equal(33.3m, card.GetProperty("onTimePercent").GetDecimal()); // 1 of 3 due
        Assert.Equal(2, card.GetProperty("sourcesAccepted").GetInt32());
        Assert.Equal(33.3m, card.GetProperty("rejectedPercent").GetDecimal());
        Assert.Equal(3, card.GetProperty("streams").GetInt64());
        Assert.Equal(1.00m, card.GetProperty("streamsPerTitle").GetDecimal());
        var states = card.GetProperty("deliveries").EnumerateArray().ToDictionary(d => d.GetProperty("titleId").GetGuid(), d => d.GetProperty("state").GetString());
        Assert.Equal("on-time", states[early]);
        Assert.Equal("late", states[late]);
        Assert.Equal("overdue", states[missing]);
        var idleCard = (await app.Client.GetFromJsonAsync<JsonElement>("/api/rights/scorecards")).EnumerateArray().Single(c => c.GetProperty("provider").GetString() == "Idle Pictures");
        Assert.Equal(JsonValueKind.Null, idleCard.GetProperty("onTimePercent").ValueKind);
        _ = idle;

        var page = await app.Client.GetStringAsync("/console/rights/suppliers");
        Assert.Contains("Northern Films", page, StringComparison.Ordinal);
        Assert.Contains("data-delivery-state=\"overdue\"", page, StringComparison.Ordinal);
        Assert.Contains("Never Came", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignedDocument_IsHashChained_AndASwappedFileIsFoundByTheVerifier()
    {
        await using var app = await MarqueeApp.StartAsync();
        var contract = await ContractAsync(app, "Paper Trail Ltd");
        var scan = Encoding.UTF8.GetBytes("%PDF-1.4 signed by both parties\n");
        using (var form = new MultipartFormDataContent { { new ByteArrayContent(scan), "file", "signed.pdf" }, { new StringContent("Countersigned"), "label" } })
        {
            var attached = await app.Client.PostAsync($"/api/rights/contracts/{contract}/documents", form);
            var body = await attached.Content.ReadAsStringAsync();
            Assert.True(attached.StatusCode == HttpStatusCode.Created, body);
            var doc = JsonSerializer.Deserialize<JsonElement>(body);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(scan)), doc.GetProperty("sha256").GetString());
            Assert.Equal(2, doc.GetProperty("sequence").GetInt32());
            var download = await app.Client.GetByteArrayAsync($"/api/rights/contracts/{contract}/documents/{doc.GetProperty("id").GetGuid()}");
            Assert.Equal(scan, download);
        }

        var history = await app.Client.GetFromJsonAsync<JsonElement>($"/api/rights/contracts/{contract}/history");
        var entry = history.EnumerateArray().Last();
        Assert.Contains("document-attached", entry.GetProperty("change").GetString(), StringComparison.Ordinal);
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(scan)), entry.GetProperty("change").GetString(), StringComparison.Ordinal);
        Assert.True((await app.Client.GetFromJsonAsync<JsonElement>("/api/rights/verify")).GetProperty("intact").GetBoolean());

        using (var empty = new MultipartFormDataContent { { new ByteArrayContent([]), "file", "empty.pdf" } })
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await app.Client.PostAsync($"/api/rights/contracts/{contract}/documents", empty)).StatusCode);
        }

        // Someone swaps the stored file for another one.
        var stored = Directory.GetFiles(Path.Combine(app.DataDir, "rights", "documents", contract.ToString("N"))).Single();
        await File.WriteAllBytesAsync(stored, Encoding.UTF8.GetBytes("%PDF-1.4 a different deal\n"));
        var report = await app.Client.GetFromJsonAsync<JsonElement>("/api/rights/verify");
        Assert.False(report.GetProperty("intact").GetBoolean());
        var problem = report.GetProperty("problems").EnumerateArray().Single();
        Assert.Equal(contract, problem.GetProperty("contractId").GetGuid());
        Assert.Equal(2, problem.GetProperty("sequence").GetInt32());
        Assert.Contains("signed.pdf", problem.GetProperty("message").GetString(), StringComparison.Ordinal);

        var (code, _, stderr) = await MarqueeProcess.RunAsync(["rights", "verify"], app.Storage.Environment());
        Assert.Equal(MarqueeCommandLine.Failed, code);
        Assert.Contains($"contract {contract}, entry #2", stderr, StringComparison.Ordinal);
        Assert.Contains("tampered", await app.Client.GetStringAsync("/console/rights/contracts"), StringComparison.Ordinal);

        // Removing it is found too.
        File.Delete(stored);
        Assert.Contains("missing", (await app.Client.GetFromJsonAsync<JsonElement>("/api/rights/verify")).GetProperty("problems")[0].GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
