using System.Data.Common;
using Marquee.Catalog.Data;
using Marquee.Platform.Events;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Marquee.Tests.Platform;

/// <summary>
/// Fails the first outbox write that marks a message delivered (an UPDATE whose SET names <c>DeliveredAt</c>) with an
/// I/O error, as a full disk or a database gone would: the handlers ran, their outcome could not be written.
/// </summary>
public sealed class FailFirstSettle : DbCommandInterceptor
{
    private int armed = 1;
    private int failed;

    /// <summary>How many settles were failed (at most one).</summary>
    public int Failed => Volatile.Read(ref failed);

    /// <summary>Runs just before the failure is thrown (the scale-out test lets "another worker" take the lease there).</summary>
    public Func<Task>? BeforeFailing { get; set; }

    public static void AddTo(IServiceCollection services, FailFirstSettle fault)
    {
        // The catalog module's context is registered per provider; the options are built once per host (singleton).
        services.ConfigureDbContext<SqliteCatalogDb>((_, o) => o.AddInterceptors(fault), ServiceLifetime.Singleton);
        services.ConfigureDbContext<PostgresCatalogDb>((_, o) => o.AddInterceptors(fault), ServiceLifetime.Singleton);
    }

    public override async ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        if (IsSettle(command.CommandText) && Interlocked.Exchange(ref armed, 0) == 1)
        {
            if (BeforeFailing is { } before)
            {
                await before();
            }

            Interlocked.Increment(ref failed);
            throw new IOException("No space left on device (a fault injected by the test)");
        }

        return await base.NonQueryExecutingAsync(command, eventData, result, cancellationToken);
    }

    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        if (IsSettle(command.CommandText) && Interlocked.Exchange(ref armed, 0) == 1)
        {
            Interlocked.Increment(ref failed);
            throw new IOException("No space left on device (a fault injected by the test)");
        }

        return base.NonQueryExecuting(command, eventData, result);
    }

    private static bool IsSettle(string sql)
    {
        if (!sql.TrimStart().StartsWith("UPDATE", StringComparison.OrdinalIgnoreCase) || !sql.Contains("outbox", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // EF writes "UPDATE ... AS x\nSET a = ..., b = ...\nWHERE ...": the settle's SET names DeliveredAt (the claim's
        // and the release's only name it in their WHERE).
        var set = System.Text.RegularExpressions.Regex.Match(sql, @"\bSET\b", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
        var where = sql.IndexOf("WHERE", StringComparison.OrdinalIgnoreCase);
        return set.Success && where > set.Index && sql[set.Index..where].Contains("\"DeliveredAt\"", StringComparison.Ordinal);
    }
}

/// <summary>
/// A delivery whose outcome (the settle: delivered, or failed with a retry time) could not be written keeps the lease
/// its worker set, by default for 2 minutes. The dispatcher remembers it and releases that lease at the start of its
/// next pass, so the message is delivered again within seconds once storage answers (at least once: handlers are
/// idempotent), and a lease another worker has taken since is left alone.
/// </summary>
public sealed class OutboxSettleFaultTests
{
    private static Action<IServiceCollection> With(FlakyHandler.Log log, FailFirstSettle fault) => services =>
    {
        services.AddSingleton(log);
        services.AddEventHandler<Ping, FlakyHandler>();
        FailFirstSettle.AddTo(services, fault);
    };

    private static async Task<Guid> PublishAsync(MarqueeApp app, string text) => await app.ScopedAsync(async sp =>
    {
        var db = sp.GetRequiredService<CatalogDb>();
        var message = OutboxMessage.For(new Ping(text));
        db.Outbox.Add(message);
        await db.SaveChangesAsync();
        return message.Id;
    });

    private static Task<OutboxMessage> MessageAsync(MarqueeApp app, Guid id) => app.ScopedAsync(sp =>
        sp.GetRequiredService<CatalogDb>().Outbox.AsNoTracking().SingleAsync(m => m.Id == id));

    [Fact]
    public async Task Deliver_WhenTheSettleCannotBeWritten_DeliversAgainWithinSeconds_NotWhenTheTwoMinuteLeaseLapses()
    {
        var log = new FlakyHandler.Log();
        var fault = new FailFirstSettle();
        await using var app = await MarqueeApp.StartAsync(services: With(log, fault));
        Assert.Equal(TimeSpan.FromMinutes(2), app.Services.GetRequiredService<IOptions<EventsOptions>>().Value.LeaseDuration); // the default

        var started = TimeProvider.System.GetUtcNow();
        var id = await PublishAsync(app, "once more");

        var message = await Poll.UntilAsync(() => MessageAsync(app, id), m => m.DeliveredAt is not null, TimeSpan.FromSeconds(20),
            "delivery again after the settle failed");
        var took = TimeProvider.System.GetUtcNow() - started;

        Assert.Equal(1, fault.Failed);
        Assert.Equal(2, log.Calls[id]); // handled, outcome lost, handled again: at least once
        Assert.Equal("once more", log.Effects[id]);
        Assert.Equal(1, message.Attempts); // the first attempt's outcome was never written
        Assert.Null(message.LockedUntil);
        Assert.True(took < TimeSpan.FromSeconds(20), $"{took}");
    }

    [Fact]
    public async Task Release_WhenAnotherWorkerHasTakenTheLeaseSince_LeavesItsLeaseAlone()
    {
        var log = new FlakyHandler.Log();
        var fault = new FailFirstSettle();
        await using var app = await MarqueeApp.StartAsync(services: With(log, fault));
        var theirs = TimeProvider.System.GetUtcNow().AddMinutes(10);
        theirs = theirs.AddTicks(-(theirs.UtcTicks % TimeSpan.TicksPerMillisecond));
        // Just before the settle fails, "another worker" holds the message: as if this worker's lease had lapsed and the
        // other had claimed it (its own lease value) while this one was still handling it.
        fault.BeforeFailing = () => app.ScopedAsync(sp => sp.GetRequiredService<CatalogDb>().Outbox
            .Where(m => m.DeliveredAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LockedUntil, theirs)));

        var first = await PublishAsync(app, "held elsewhere");
        await Poll.UntilAsync(() => Task.FromResult(fault.Failed), n => n == 1, what: "the failed settle");
        // A later message: the pass that delivers it starts by releasing the leases of failed settles.
        var second = await PublishAsync(app, "after");
        await Poll.UntilAsync(() => MessageAsync(app, second), m => m.DeliveredAt is not null, what: "the next pass");

        var held = await MessageAsync(app, first);
        Assert.Equal(theirs, held.LockedUntil);
        Assert.Null(held.DeliveredAt);
        Assert.Equal(1, log.Calls[first]); // not handled again by this worker while the other holds it
    }
}
