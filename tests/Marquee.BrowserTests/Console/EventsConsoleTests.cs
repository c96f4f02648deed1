using Marquee.BrowserTests.Support;
using Marquee.Catalog.Contracts;
using Marquee.Catalog.Data;
using Marquee.Platform.Events;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Console;

/// <summary>The events page: every module's outbox, and retrying a message whose delivery was given up.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class EventsConsoleTests(BrowserFixture browser)
{
    [Fact]
    public async Task RetryEvent_WhenMessageFailed_IsDeliveredAgain()
    {
        var failed = await FailedMessageInCatalogAsync();
        await using var session = await browser.OpenAsync();
        await session.GoAsync("/console/events");
        var failedSection = session.Page.GetByRole(AriaRole.Region, new() { Name = "Failed" });
        await Expect(failedSection.GetByText("InvalidOperationException: the handler was down")).ToBeVisibleAsync();

        await failedSection.GetByRole(AriaRole.Button, new() { Name = $"Retry catalog.title-created.v1 {failed}" }).ClickAsync();

        await Expect(session.Page.GetByRole(AriaRole.Status)).ToContainTextAsync(failed.ToString());
        var delivered = await Poll.UntilAsync(
            () => browser.App.ScopedAsync(async sp => await sp.GetRequiredService<CatalogDb>().Outbox.AsNoTracking().SingleAsync(m => m.Id == failed)),
            m => m.DeliveredAt is not null, what: "the retried message to be delivered");
        Assert.Null(delivered.FailedAt);
        Assert.Equal(1, delivered.Attempts);
        await session.Page.ReloadAsync();
        await Expect(session.Page.GetByRole(AriaRole.Region, new() { Name = "Recently delivered" }).GetByText(failed.ToString())).ToBeVisibleAsync();
        session.AssertNoErrors();
    }

    /// <summary>A message in Catalog's outbox that was given up after its last attempt.</summary>
    private async Task<Guid> FailedMessageInCatalogAsync() => await browser.App.ScopedAsync(async sp =>
    {
        var db = sp.GetRequiredService<CatalogDb>();
        var now = sp.GetRequiredService<TimeProvider>().GetUtcNow();
        var message = OutboxMessage.For(new TitleCreated(Guid.NewGuid(), "lost", "Lost", TitleKind.Film));
        message.Attempts = 10;
        message.NextAttemptAt = now;
        message.FailedAt = now;
        message.LastError = "InvalidOperationException: the handler was down";
        db.Outbox.Add(message);
        await db.SaveChangesAsync();
        return message.Id;
    });
}
