using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Cli;
using Marquee.Rights;
using Marquee.Rights.Data;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Rights;

/// <summary>Providers, contracts and their append-only, hash-chained history; tampering found by the API, the console and <c>marquee rights verify</c>.</summary>
public sealed class ContractChainTests
{
    private static async Task<Guid> ProviderAsync(MarqueeApp app)
    {
        var response = await app.PostJsonAsync("/api/rights/providers", new
        {
            name = "Blender Studio",
            kind = "rights-holder",
            contacts = new[] { new { name = "Ton", email = "rights@example.org", role = "Licensing" } },
        });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private static object Terms(decimal share = 30m) => new
    {
        name = "Open movies 2027",
        feeModel = "RevenueShare",
        currency = "EUR",
        paymentSchedule = "Quarterly",
        terms = "Non-exclusive streaming of the listed films.",
        revenueSharePercent = share,
    };

    private static async Task<Guid> ContractAsync(MarqueeApp app)
    {
        var provider = await ProviderAsync(app);
        var response = await app.PostJsonAsync("/api/rights/contracts", new { providerId = provider, contract = Terms() });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        return JsonSerializer.Deserialize<JsonElement>(body).GetProperty("id").GetGuid();
    }

    private static Task<HttpResponseMessage> MoveAsync(MarqueeApp app, Guid id, string to) =>
        app.PostJsonAsync($"/api/rights/contracts/{id}/transitions", new { to });

    /// <summary>Runs SQL on the rights tables with the append-only triggers off, as someone with database access would.</summary>
    private static Task TamperAsync(MarqueeApp app, Func<RightsDb, bool, Task> change) => app.ScopedAsync(async sp =>
    {
        var db = sp.GetRequiredService<RightsDb>();
        var postgres = db.Database.IsNpgsql();
        if (postgres)
        {
            await db.Database.ExecuteSqlRawAsync("ALTER TABLE rights.contract_history DISABLE TRIGGER USER");
        }
        else
        {
            await db.Database.ExecuteSqlRawAsync("DROP TRIGGER rights_contract_history_no_update");
        }

        await change(db, postgres);
        return 0;
    });

    private static string History(bool postgres) => postgres ? "rights.contract_history" : "rights_contract_history";

    private static IDictionary<string, string?> Env(MarqueeApp app) => app.Storage.Environment();

    [Fact]
    public async Task Contract_MovesThroughItsLife_AndRefusesInvalidMovesWith409()
    {
        await using var app = await MarqueeApp.StartAsync();
        var id = await ContractAsync(app);

        var skip = await MoveAsync(app, id, "Signed");
        Assert.Equal(HttpStatusCode.Conflict, skip.StatusCode);
        Assert.Equal("application/problem+json", skip.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, (await MoveAsync(app, id, "Negotiation")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.PutAsJsonAsync($"/api/rights/contracts/{id}/terms", Terms(35m))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await MoveAsync(app, id, "Signed")).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await app.Client.PutAsJsonAsync($"/api/rights/contracts/{id}/terms", Terms(40m))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await MoveAsync(app, id, "Active")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await MoveAsync(app, id, "Expired")).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await MoveAsync(app, id, "Active")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await MoveAsync(app, Guid.NewGuid(), "Active")).StatusCode);

        var history = await app.Client.GetFromJsonAsync<JsonElement>($"/api/rights/contracts/{id}/history");
        var entries = history.EnumerateArray().ToList();
        Assert.Equal(6, entries.Count); // created, negotiation, terms, signed, active, expired
        Assert.Equal(ContractChain.Genesis, entries[0].GetProperty("previousHash").GetString());
        for (var i = 1; i < entries.Count; i++)
        {
            Assert.Equal(entries[i - 1].GetProperty("hash").GetString(), entries[i].GetProperty("previousHash").GetString());
        }

        Assert.Matches("\"revenueSharePercent\":\"30(\\.0+)? -> 35\"", entries[2].GetProperty("change").GetString());

        // Every head is in the file outside the database, one line per new head.
        var lines = await File.ReadAllLinesAsync(Path.Combine(app.DataDir, "rights", "chain-heads.log"));
        Assert.Equal(6, lines.Length);
        Assert.EndsWith($"{id:D} 6 {entries[5].GetProperty("hash").GetString()}", lines[5], StringComparison.Ordinal);

        var verify = await app.Client.GetFromJsonAsync<JsonElement>("/api/rights/verify");
        Assert.Equal(0, verify.GetProperty("problems").GetArrayLength());
        var (code, stdout, _) = await MarqueeProcess.RunAsync(["rights", "verify"], Env(app));
        Assert.Equal(MarqueeCommandLine.Ok, code);
        Assert.Contains("Intact: 1 contract(s), 6 history entries", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task History_RefusesUpdateAndDelete_InTheDatabase()
    {
        await using var app = await MarqueeApp.StartAsync();
        await ContractAsync(app);

        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<RightsDb>();
            var table = History(db.Database.IsNpgsql());
            var update = $"UPDATE {table} SET \"Actor\" = 'someone else'";
            var delete = $"DELETE FROM {table}";
            await Assert.ThrowsAnyAsync<Exception>(() => db.Database.ExecuteSqlRawAsync(update));
            await Assert.ThrowsAnyAsync<Exception>(() => db.Database.ExecuteSqlRawAsync(delete));
            Assert.Equal(1, await db.ContractHistory.CountAsync());
            return 0;
        });
    }

    [Fact]
    public async Task Verify_WhenOneEntryEditedByHand_NamesTheContractAndEntry()
    {
        await using var app = await MarqueeApp.StartAsync();
        var id = await ContractAsync(app);
        await MoveAsync(app, id, "Negotiation");
        await MoveAsync(app, id, "Signed");

        await TamperAsync(app, (db, pg) =>
        {
            var sql = $"UPDATE {History(pg)} SET \"Actor\" = 'nobody' WHERE \"Sequence\" = 2";
            return db.Database.ExecuteSqlRawAsync(sql);
        });

        var verify = await app.Client.GetFromJsonAsync<JsonElement>("/api/rights/verify");
        var problems = verify.GetProperty("problems").EnumerateArray().ToList();
        Assert.Single(problems);
        Assert.Equal(id, problems[0].GetProperty("contractId").GetGuid());
        Assert.Equal(2, problems[0].GetProperty("sequence").GetInt32());

        var (code, _, stderr) = await MarqueeProcess.RunAsync(["rights", "verify"], Env(app));
        Assert.Equal(MarqueeCommandLine.Failed, code);
        Assert.Contains($"contract {id}, entry #2: its content does not match its hash", stderr, StringComparison.Ordinal);

        var page = await app.Client.GetStringAsync("/console/rights/contracts");
        Assert.Contains("data-chain=\"tampered\"", page, StringComparison.Ordinal);
        Assert.Contains($"contract {id}, entry #2", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_WhenTheWholeChainIsRewrittenConsistently_FindsTheHeadNoLongerMatchesTheFile()
    {
        await using var app = await MarqueeApp.StartAsync();
        var id = await ContractAsync(app);
        await MoveAsync(app, id, "Negotiation");
        var before = await app.Client.GetStringAsync("/console/rights/contracts");
        Assert.Contains("data-chain=\"intact\"", before, StringComparison.Ordinal);

        // Someone lowers the revenue share from 30% to 10% everywhere: in the contract and in every history entry, each
        // entry re-hashed and re-linked, so that the chain is consistent in itself.
        await TamperAsync(app, async (db, pg) =>
        {
            var entries = await db.ContractHistory.AsNoTracking().Where(e => e.ContractId == id).OrderBy(e => e.Sequence).ToListAsync();
            var previous = ContractChain.Genesis;
            foreach (var e in entries)
            {
                var change = e.Change.Replace("\"revenueSharePercent\":30", "\"revenueSharePercent\":10", StringComparison.Ordinal);
                Assert.NotEqual(e.Change, change);
                var hash = ContractChain.Hash(e.ContractId, e.Sequence, e.At, e.Actor, change, previous);
                var sql = $"UPDATE {History(pg)} SET \"Change\" = {{0}}, \"PreviousHash\" = {{1}}, \"Hash\" = {{2}} WHERE \"Hash\" = {{3}}";
                await db.Database.ExecuteSqlRawAsync(sql, change, previous, hash, e.Hash);
                previous = hash;
            }

            var contracts = $"UPDATE {(pg ? "rights.contracts" : "rights_contracts")} SET \"RevenueSharePercent\" = 10";
            await db.Database.ExecuteSqlRawAsync(contracts);
        });

        var problems = (await app.Client.GetFromJsonAsync<JsonElement>("/api/rights/verify")).GetProperty("problems").EnumerateArray().ToList();
        var problem = Assert.Single(problems);
        Assert.Equal(id, problem.GetProperty("contractId").GetGuid());
        Assert.Contains("does not match the head file", problem.GetProperty("message").GetString(), StringComparison.Ordinal);

        var (code, _, stderr) = await MarqueeProcess.RunAsync(["rights", "verify"], Env(app));
        Assert.Equal(MarqueeCommandLine.Failed, code);
        Assert.Contains($"contract {id}, entry #2: the head in the database", stderr, StringComparison.Ordinal);

        var page = await app.Client.GetStringAsync("/console/rights/contracts");
        Assert.Contains("data-chain=\"tampered\"", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_WhenTheContractRowIsChangedOutsideTheHistory_FindsIt()
    {
        await using var app = await MarqueeApp.StartAsync();
        var id = await ContractAsync(app);

        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<RightsDb>();
            var sql = $"UPDATE {(db.Database.IsNpgsql() ? "rights.contracts" : "rights_contracts")} SET \"RevenueSharePercent\" = 5";
            return await db.Database.ExecuteSqlRawAsync(sql);
        });

        var problem = Assert.Single((await app.Client.GetFromJsonAsync<JsonElement>("/api/rights/verify")).GetProperty("problems").EnumerateArray());
        Assert.Equal(id, problem.GetProperty("contractId").GetGuid());
        Assert.Contains("changed outside the history", problem.GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
