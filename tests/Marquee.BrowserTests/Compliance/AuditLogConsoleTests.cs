using Marquee.BrowserTests.Support;
using Marquee.Platform.Audit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Compliance;

/// <summary>Compliance's console page: the audit log.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class AuditLogConsoleTests(BrowserFixture browser)
{
    [Fact]
    public async Task FilterAuditLog_WhenActionChosen_ShowsOnlyThatAction()
    {
        await browser.App.ScopedAsync(async sp =>
        {
            await sp.GetRequiredService<IAuditLog>().RecordAsync(new AuditRecord("tester", "test.checked", "thing:1", "127.0.0.1", "a line of another action"), CancellationToken.None);
            return true;
        });
        await using var session = await browser.OpenAsync();
        await session.GoAsync("/console/compliance/audit");

        await session.Page.GetByLabel("Action").SelectOptionAsync("test.checked");
        await session.Page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();

        var table = session.Page.GetByRole(AriaRole.Table);
        await Expect(table.Locator("caption")).ToContainTextAsync("with the action test.checked");
        var actions = await table.Locator("tbody tr td:nth-child(3)").AllInnerTextsAsync();
        Assert.NotEmpty(actions);
        Assert.All(actions, a => Assert.Equal("test.checked", a.Trim()));
        session.AssertNoErrors();
    }
}
