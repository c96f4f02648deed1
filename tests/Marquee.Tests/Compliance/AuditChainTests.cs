using Marquee.Compliance;
using Marquee.Compliance.Data;
using Marquee.Identity.Contracts;
using Marquee.Platform.Audit;
using Marquee.Platform.Events;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Compliance;

/// <summary>
/// R24: the audit log's hash chain. Lines are edited, reordered, redacted without an erasure and deleted with SQL
/// straight in the database (its append-only triggers dropped first, as someone with the database file would); the
/// verifier names the first bad line each time, and the untouched (or restored) log verifies intact: the negative control.
/// </summary>
public sealed class AuditChainTests
{
    [Fact]
    public async Task Verify_WhenLinesAreEditedReorderedRedactedOrDeleted_NamesTheFirstBadLine_AndAnIntactLogPasses()
    {
        await using var app = await MarqueeApp.StartAsync(c => c["Marquee:Roles"] = "web");
        var ids = new List<long>();
        for (var i = 0; i < 8; i++)
        {
            ids.Add(await RecordAsync(app, $"line {i}"));
        }

        var intact = await VerifyAsync(app);
        Assert.Null(intact.Problem);
        Assert.True(intact.Lines >= 8);
        Assert.Equal(intact.Lines, intact.Head.Sequence);
        await TamperAsync(app, DisableTriggers(app));

        // An edited line: found at that line; restored, the chain is whole again.
        await TamperAsync(app, $"UPDATE {Table(app)} SET \"Details\" = 'line 3, edited' WHERE \"Id\" = {ids[3]}");
        var edited = await VerifyAsync(app);
        Assert.Equal(ids[3], edited.FirstBadId);
        Assert.Contains("edited", edited.Problem, StringComparison.Ordinal);
        await TamperAsync(app, $"UPDATE {Table(app)} SET \"Details\" = 'line 3' WHERE \"Id\" = {ids[3]}");
        Assert.Null((await VerifyAsync(app)).Problem);

        // Two lines swapped in the order: found at the first place that changed (now held by the later line).
        var (s4, s5) = (await SequenceOfAsync(app, ids[4]), await SequenceOfAsync(app, ids[5]));
        await SwapAsync(app, ids[4], s4, ids[5], s5);
        var reordered = await VerifyAsync(app);
        Assert.Equal(ids[5], reordered.FirstBadId);
        await SwapAsync(app, ids[4], s5, ids[5], s4);
        Assert.Null((await VerifyAsync(app)).Problem);

        // A line marked redacted (so its text is not compared) with no erasure naming it.
        await TamperAsync(app, $"UPDATE {Table(app)} SET \"Actor\" = 'someone else', \"RedactedAt\" = \"At\" WHERE \"Id\" = {ids[2]}");
        var fakeRedaction = await VerifyAsync(app);
        Assert.Equal(ids[2], fakeRedaction.FirstBadId);
        Assert.Contains("no erasure line names it", fakeRedaction.Problem, StringComparison.Ordinal);
        await TamperAsync(app, $"UPDATE {Table(app)} SET \"Actor\" = 'r24-test', \"RedactedAt\" = NULL WHERE \"Id\" = {ids[2]}");
        Assert.Null((await VerifyAsync(app)).Problem);

        // Appending after all that stays valid.
        ids.Add(await RecordAsync(app, "line 8"));
        var appended = await VerifyAsync(app);
        Assert.Null(appended.Problem);
        Assert.Equal(intact.Lines + 1, appended.Lines);

        // The newest line deleted: the chain ends short of its head.
        await TamperAsync(app, $"DELETE FROM {Table(app)} WHERE \"Id\" = {ids[8]}");
        var truncated = await VerifyAsync(app);
        Assert.Contains("head says", truncated.Problem, StringComparison.Ordinal);

        // A line in the middle deleted: found at the line after the gap.
        await TamperAsync(app, $"DELETE FROM {Table(app)} WHERE \"Id\" = {ids[6]}");
        var deleted = await VerifyAsync(app);
        Assert.Equal(ids[7], deleted.FirstBadId);
        Assert.Contains("missing", deleted.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_AfterAnErasureRedactedLines_StillPasses_AndTheErasureNamesThem()
    {
        await using var app = await MarqueeApp.StartAsync(c => c["Marquee:Roles"] = "web");
        var account = Guid.NewGuid();
        var email = $"erased-{account:N}@example.com";
        var named = new[]
        {
            await RecordAsync(app, "signed in", actor: email),
            await RecordAsync(app, $"changed account:{account}"),
        };

        await app.ScopedAsync(async sp =>
        {
            var now = TimeProvider.System.GetUtcNow();
            await ActivatorUtilities.CreateInstance<CompliancePrivacy>(sp).HandleAsync(
                new AccountDeleted(account, now, now, email), new EventContext(Guid.NewGuid(), "identity.account-deleted.v1", now, 1, "identity"), CancellationToken.None);
            return 0;
        });

        var result = await VerifyAsync(app);
        Assert.Null(result.Problem);
        var erasure = await app.ScopedAsync(sp => sp.GetRequiredService<ComplianceDb>().AuditEntries.AsNoTracking()
            .Where(a => a.Action == "compliance.subject-erased").OrderByDescending(a => a.Id).Select(a => a.Details).FirstAsync());
        Assert.All(named, id => Assert.Contains($"#{id}", erasure, StringComparison.Ordinal));
        Assert.True(await app.ScopedAsync(sp => sp.GetRequiredService<ComplianceDb>().AuditEntries.AsNoTracking().Where(a => named.Contains(a.Id)).AllAsync(a => a.RedactedAt != null)));
    }

    /// <summary>
    /// The newest lines cut and the head row moved back to the new last line, consistently: the chain alone cannot tell
    /// (the control), the heads recorded in the head file outside the database can. A head file line edited by hand is
    /// refused too.
    /// </summary>
    [Fact]
    public async Task Verify_WhenTheNewestLinesAreCutAndTheHeadMovedBack_IsCaughtByTheHeadFileOnly()
    {
        await using var app = await MarqueeApp.StartAsync(c => c["Marquee:Roles"] = "web");
        var ids = new List<long>();
        for (var i = 0; i < 6; i++)
        {
            ids.Add(await RecordAsync(app, $"cut {i}"));
        }

        var headFile = app.ScopedAsync(sp => Task.FromResult(AuditHeadFile.PathIn(sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<Marquee.Platform.MarqueeOptions>>().Value)));
        var path = await headFile;
        var intact = await app.ScopedAsync(sp => AuditChainHash.VerifyAsync(sp.GetRequiredService<ComplianceDb>(), CancellationToken.None, path));
        Assert.Null(intact.Problem);
        Assert.True(intact.Anchors >= 6, $"{intact.Anchors} heads recorded");

        // Cut the two newest of our lines (and anything after them), and move the head back to the line before.
        var keep = await SequenceOfAsync(app, ids[3]);
        var keptHash = await app.ScopedAsync(async sp => (await sp.GetRequiredService<ComplianceDb>().AuditEntries.AsNoTracking().SingleAsync(a => a.Id == ids[3])).Hash!);
        await TamperAsync(app, DisableTriggers(app));
        await TamperAsync(app, $"DELETE FROM {Table(app)} WHERE \"Sequence\" > {keep}");
        await TamperAsync(app, $"UPDATE {HeadTable(app)} SET \"Sequence\" = {keep}, \"Hash\" = '{keptHash}' WHERE \"Id\" = 1");

        Assert.Null((await VerifyAsync(app)).Problem); // the control: the chain alone holds together
        var cut = await app.ScopedAsync(sp => AuditChainHash.VerifyAsync(sp.GetRequiredService<ComplianceDb>(), CancellationToken.None, path));
        Assert.NotNull(cut.Problem);
        Assert.Contains("does not reach", cut.Problem, StringComparison.Ordinal);

        // The head file itself edited (a line made unreadable): refused, not skipped.
        await File.AppendAllTextAsync(path, "not a head\n");
        var edited = await app.ScopedAsync(sp => AuditChainHash.VerifyAsync(sp.GetRequiredService<ComplianceDb>(), CancellationToken.None, path));
        Assert.Contains("unreadable", edited.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Append_FromManyScopesAtOnce_KeepsOneUnbrokenChain()
    {
        await using var app = await MarqueeApp.StartAsync(c => c["Marquee:Roles"] = "web");
        await Task.WhenAll(Enumerable.Range(0, 24).Select(i => Task.Run(() => RecordAsync(app, $"concurrent {i}"))));

        var result = await VerifyAsync(app);

        Assert.Null(result.Problem);
        Assert.True(result.Lines >= 24);
    }

    private static Task<long> RecordAsync(MarqueeApp app, string details, string actor = "r24-test") => app.ScopedAsync(async sp =>
    {
        await sp.GetRequiredService<IAuditLog>().RecordAsync(new AuditRecord(actor, "test.r24", "r24", "127.0.0.1", details), CancellationToken.None);
        return await sp.GetRequiredService<ComplianceDb>().AuditEntries.Where(a => a.Details == details).Select(a => a.Id).SingleAsync();
    });

    private static Task<AuditVerification> VerifyAsync(MarqueeApp app) =>
        app.ScopedAsync(sp => AuditChainHash.VerifyAsync(sp.GetRequiredService<ComplianceDb>(), CancellationToken.None));

    private static Task<long> SequenceOfAsync(MarqueeApp app, long id) =>
        app.ScopedAsync(async sp => (await sp.GetRequiredService<ComplianceDb>().AuditEntries.AsNoTracking().SingleAsync(a => a.Id == id)).Sequence!.Value);

    private static async Task SwapAsync(MarqueeApp app, long a, long sa, long b, long sb)
    {
        await TamperAsync(app, $"UPDATE {Table(app)} SET \"Sequence\" = -1 WHERE \"Id\" = {a}");
        await TamperAsync(app, $"UPDATE {Table(app)} SET \"Sequence\" = {sa} WHERE \"Id\" = {b}");
        await TamperAsync(app, $"UPDATE {Table(app)} SET \"Sequence\" = {sb} WHERE \"Id\" = {a}");
    }

    private static string Table(MarqueeApp app) => app.Storage.Database.Provider == "Postgres" ? "compliance.audit_entries" : "compliance_audit_entries";

    private static string HeadTable(MarqueeApp app) => app.Storage.Database.Provider == "Postgres" ? "compliance.audit_chain" : "compliance_audit_chain";

    private static string DisableTriggers(MarqueeApp app) => app.Storage.Database.Provider == "Postgres"
        ? "ALTER TABLE compliance.audit_entries DISABLE TRIGGER USER"
        : "DROP TRIGGER IF EXISTS compliance_audit_entries_no_update; DROP TRIGGER IF EXISTS compliance_audit_entries_no_delete";

    private static Task TamperAsync(MarqueeApp app, string sql) =>
        app.ScopedAsync(async sp => await sp.GetRequiredService<ComplianceDb>().Database.ExecuteSqlRawAsync(sql));
}
