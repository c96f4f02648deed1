using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Catalog.Data;
using Marquee.Compliance.Data;
using Marquee.Platform.Events;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Platform;

[EventName("tests.ping.v1")]
public sealed record Ping(string Text) : IDomainEvent;

/// <summary>Fails a configured number of times per message, then records the message once (idempotent by message id).</summary>
public sealed class FlakyHandler(FlakyHandler.Log log) : IDomainEventHandler<Ping>
{
    public sealed class Log
    {
        public int FailuresPerMessage { get; set; }

        public ConcurrentDictionary<Guid, int> Calls { get; } = new();

        public ConcurrentDictionary<Guid, string> Effects { get; } = new();
    }

    public Task HandleAsync(Ping domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        var call = log.Calls.AddOrUpdate(context.MessageId, 1, (_, n) => n + 1);
        if (call <= log.FailuresPerMessage)
        {
            throw new InvalidOperationException($"planned failure {call}");
        }

        log.Effects.TryAdd(context.MessageId, domainEvent.Text);
        return Task.CompletedTask;
    }
}

public sealed class OutboxTests
{
    private static Action<IServiceCollection> WithFlakyHandler(FlakyHandler.Log log) => services =>
    {
        services.AddSingleton(log);
        services.AddEventHandler<Ping, FlakyHandler>();
    };

    private static async Task<Guid> PublishAsync(MarqueeApp app, IDomainEvent domainEvent) => await app.ScopedAsync(async sp =>
    {
        var db = sp.GetRequiredService<CatalogDb>();
        db.Publish(domainEvent);
        await db.SaveChangesAsync();
        return await db.Outbox.OrderByDescending(m => m.Id).Select(m => m.Id).FirstAsync();
    });

    private static Task<OutboxMessage> MessageAsync(MarqueeApp app, Guid id) => app.ScopedAsync(sp =>
        sp.GetRequiredService<CatalogDb>().Outbox.AsNoTracking().SingleAsync(m => m.Id == id));

    [Fact]
    public async Task Deliver_WhenHandlerFailsTwice_RetriesWithBackoffThenSucceedsOnce()
    {
        var log = new FlakyHandler.Log { FailuresPerMessage = 2 };
        await using var app = await MarqueeApp.StartAsync(services: WithFlakyHandler(log));

        var id = await PublishAsync(app, new Ping("hello"));

        var message = await Poll.UntilAsync(() => MessageAsync(app, id), m => m.DeliveredAt is not null, what: "delivery");
        Assert.Equal(3, message.Attempts);
        Assert.Equal(3, log.Calls[id]);
        Assert.Equal("hello", log.Effects[id]);
        Assert.Contains("planned failure 2", message.LastError, StringComparison.Ordinal);
        Assert.Null(message.FailedAt);
        // Back-off: the second retry waited twice the base delay (50 ms, then 100 ms) after the first.
        Assert.True(message.DeliveredAt - message.OccurredAt >= TimeSpan.FromMilliseconds(150), $"{message.DeliveredAt - message.OccurredAt}");
    }

    [Fact]
    public async Task Deliver_WhenHandlerAlwaysFails_MarksFailedAfterMaxAttempts()
    {
        var log = new FlakyHandler.Log { FailuresPerMessage = int.MaxValue };
        await using var app = await MarqueeApp.StartAsync(
            configure: s => s["Marquee:Events:MaxAttempts"] = "3",
            services: WithFlakyHandler(log));

        var id = await PublishAsync(app, new Ping("doomed"));

        var message = await Poll.UntilAsync(() => MessageAsync(app, id), m => m.FailedAt is not null, what: "giving up");
        Assert.Equal(3, message.Attempts);
        Assert.Null(message.DeliveredAt);
        Assert.Contains("planned failure 3", message.LastError, StringComparison.Ordinal);
        Assert.Empty(log.Effects);
    }

    [Fact]
    public async Task Deliver_WhenTwoWorkersShareOneDatabase_EachMessageIsHandledOnce()
    {
        var log = new FlakyHandler.Log(); // shared by both processes' handlers, to see a double delivery
        await using var storage = await TestStorage.CreateAsync();
        await using var first = await MarqueeApp.StartAsync(services: WithFlakyHandler(log), storage: storage);
        await using var second = await MarqueeApp.StartAsync(services: WithFlakyHandler(log), storage: storage);

        var ids = new List<Guid>();
        for (var batch = 0; batch < 4; batch++)
        {
            ids.AddRange(await first.ScopedAsync(async sp =>
            {
                var db = sp.GetRequiredService<CatalogDb>();
                for (var i = 0; i < 20; i++)
                {
                    db.Publish(new Ping($"{batch}-{i}"));
                }

                await db.SaveChangesAsync();
                return await db.Outbox.Select(m => m.Id).ToListAsync();
            }));
        }

        ids = [.. ids.Distinct()];
        await Poll.UntilAsync(
            () => second.ScopedAsync(sp => sp.GetRequiredService<CatalogDb>().Outbox.CountAsync(m => m.DeliveredAt == null)),
            n => n == 0, TimeSpan.FromSeconds(30), "every message delivered");

        Assert.Equal(80, ids.Count);
        Assert.All(ids, id => Assert.Equal(1, log.Calls[id]));
        var attempts = await first.ScopedAsync(sp => sp.GetRequiredService<CatalogDb>().Outbox.Select(m => m.Attempts).Distinct().ToListAsync());
        Assert.Equal([1], attempts);
    }

    [Fact]
    public async Task Retry_WhenOperatorRetriesAFailedMessage_DeliversItAndAuditsTheRetry()
    {
        var log = new FlakyHandler.Log { FailuresPerMessage = 1 };
        await using var app = await MarqueeApp.StartAsync(
            configure: s => s["Marquee:Events:MaxAttempts"] = "1",
            services: WithFlakyHandler(log));
        var id = await PublishAsync(app, new Ping("second chance"));
        await Poll.UntilAsync(() => MessageAsync(app, id), m => m.FailedAt is not null, what: "the failure");

        var retried = await app.ScopedAsync(sp => sp.GetRequiredService<Outboxes>()
            .RetryAsync("catalog", id, new Marquee.Platform.Web.RequestActor("ops@example.test", "192.0.2.1"), CancellationToken.None));
        var again = await app.ScopedAsync(sp => sp.GetRequiredService<Outboxes>()
            .RetryAsync("catalog", id, new Marquee.Platform.Web.RequestActor("ops@example.test", "192.0.2.1"), CancellationToken.None));

        Assert.True(retried);
        var message = await Poll.UntilAsync(() => MessageAsync(app, id), m => m.DeliveredAt is not null, what: "delivery after retry");
        Assert.Equal("second chance", log.Effects[id]);
        Assert.Equal(1, message.Attempts);
        var audit = await Poll.UntilAsync(
            () => app.Client.GetFromJsonAsync<JsonElement[]>("/api/compliance/audit?action=platform.event-retried")!,
            l => l!.Length == 1, what: "the retry's audit line");
        Assert.Equal($"event:catalog/{id}", audit![0].GetProperty("target").GetString());
        Assert.Equal("ops@example.test", audit[0].GetProperty("actor").GetString());
        Assert.False(again); // already retried (and since delivered): nothing to do, nothing audited
    }

    [Fact]
    public async Task Deliver_WhenRestartedBetweenStoreAndDelivery_DeliversOnce()
    {
        await using var storage = await TestStorage.CreateAsync();
        Guid titleId;
        await using (var webOnly = await MarqueeApp.StartAsync(configure: s => s["Marquee:Roles"] = "web", storage: storage))
        {
            var created = await (await webOnly.PostJsonAsync("/api/catalog/titles", new { name = "Tears of Steel", kind = "Film" }))
                .Content.ReadFromJsonAsync<JsonElement>();
            titleId = created.GetProperty("id").GetGuid();
            var pending = await webOnly.ScopedAsync(sp => sp.GetRequiredService<CatalogDb>().Outbox.CountAsync(m => m.DeliveredAt == null));
            Assert.Equal(2, pending); // TitleCreated and its audit request, stored with the title
            Assert.Empty(await webOnly.Client.GetFromJsonAsync<JsonElement[]>("/api/compliance/audit") ?? []);
        }

        await using var worker = await MarqueeApp.StartAsync(storage: storage);
        var lines = await Poll.UntilAsync(
            () => worker.Client.GetFromJsonAsync<JsonElement[]>("/api/compliance/audit")!,
            l => l!.Length > 0, what: "the audit line after restart");
        await Poll.UntilAsync(
            () => worker.ScopedAsync(sp => sp.GetRequiredService<CatalogDb>().Outbox.CountAsync(m => m.DeliveredAt == null)),
            n => n == 0, what: "every message delivered");
        lines = await worker.Client.GetFromJsonAsync<JsonElement[]>("/api/compliance/audit");
        Assert.Single(lines!);
        Assert.Equal($"title:{titleId}", lines![0].GetProperty("target").GetString());
    }

    [Fact]
    public async Task Deliver_WhenMessageIsDeliveredAgain_IdempotentHandlerAddsNothing()
    {
        await using var app = await MarqueeApp.StartAsync();
        await app.PostJsonAsync("/api/catalog/titles", new { name = "Sintel", kind = "Film" });
        await Poll.UntilAsync(
            () => app.ScopedAsync(sp => sp.GetRequiredService<CatalogDb>().Outbox.CountAsync(m => m.DeliveredAt == null)),
            n => n == 0, what: "delivery");

        // As if the process died after the handler committed but before the message was marked delivered.
        await app.ScopedAsync(sp => sp.GetRequiredService<CatalogDb>().Outbox
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.DeliveredAt, (DateTimeOffset?)null)));
        await Poll.UntilAsync(
            () => app.ScopedAsync(sp => sp.GetRequiredService<CatalogDb>().Outbox.CountAsync(m => m.DeliveredAt == null)),
            n => n == 0, what: "redelivery");

        var entries = await app.ScopedAsync(sp => sp.GetRequiredService<ComplianceDb>().AuditEntries.CountAsync());
        Assert.Equal(1, entries);
        var attempts = await app.ScopedAsync(sp => sp.GetRequiredService<CatalogDb>().Outbox.Select(m => m.Attempts).ToListAsync());
        Assert.All(attempts, a => Assert.Equal(2, a));
    }

    [Fact]
    public async Task Publish_WhenTransactionRollsBack_StoresNoEvent()
    {
        await using var app = await MarqueeApp.StartAsync(configure: s => s["Marquee:Roles"] = "web");

        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<CatalogDb>();
            await using var tx = await db.Database.BeginTransactionAsync();
            db.Titles.Add(new Title { Id = Guid.NewGuid(), Name = "Never", Slug = "never", CreatedAt = TimeProvider.System.GetUtcNow() });
            db.Publish(new Ping("never"));
            await db.SaveChangesAsync();
            await tx.RollbackAsync();
            return 0;
        });

        Assert.Equal(0, await app.ScopedAsync(sp => sp.GetRequiredService<CatalogDb>().Outbox.CountAsync()));
        Assert.Equal(0, await app.ScopedAsync(sp => sp.GetRequiredService<CatalogDb>().Titles.CountAsync()));
    }

    [Theory]
    [InlineData(1, 50)]
    [InlineData(2, 100)]
    [InlineData(3, 200)]
    [InlineData(30, 60_000)]
    public void RetryDelay_WhenAttemptsGrow_DoublesUpToTheCap(int attempts, int expectedMs)
    {
        var options = new EventsOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(50), MaxRetryDelay = TimeSpan.FromMinutes(1) };

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), options.RetryDelay(attempts));
    }
}
