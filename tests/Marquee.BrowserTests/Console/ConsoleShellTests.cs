using System.Text.RegularExpressions;
using Marquee.BrowserTests.Support;
using Marquee.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Console;

/// <summary>The operator console's shell: overview, navigation per module, the API reference.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class ConsoleShellTests(BrowserFixture browser)
{
    [Fact]
    public async Task OpenConsole_WhenFromThisMachine_ShowsOverviewWithoutBrowserErrors()
    {
        await using var session = await browser.OpenAsync();

        var response = await session.GoAsync("/console");

        Assert.Equal(200, response.Status);
        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = "Overview", Level = 1 })).ToBeVisibleAsync();
        var figures = session.Page.Locator(".figures");
        await Expect(figures.Locator(".figure", new() { HasText = "Titles" }).Locator(".figure-value")).ToHaveTextAsync(new Regex(@"^\d+$"));
        await Expect(figures.Locator(".figure", new() { HasText = "Audit lines" })).ToBeVisibleAsync();
        var delivery = session.Page.GetByRole(AriaRole.Region, new() { Name = "Event delivery" });
        await Expect(delivery.GetByRole(AriaRole.Rowheader, new() { Name = "catalog" })).ToBeVisibleAsync();
        await Expect(delivery.GetByRole(AriaRole.Rowheader, new() { Name = "compliance" })).ToBeVisibleAsync();
        await Expect(session.Page.Locator("dl.facts")).ToContainTextAsync("SQLite");
        await Expect(session.Page.Locator("dl.facts")).ToContainTextAsync("Version");
        session.AssertNoErrors();
    }

    [Fact]
    public async Task OpenConsole_WhenNotSignedIn_SendsToSignInPage()
    {
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Anonymous);

        foreach (var path in new[] { "/console", "/console/catalog", "/console/compliance/audit", "/console/events" })
        {
            await session.GoAsync(path);

            await Expect(session.Page).ToHaveURLAsync(new Regex(@"/signin\?ReturnUrl=" + Regex.Escape(Uri.EscapeDataString(path)) + "$"));
            await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        }

        session.AssertNoErrors();
    }

    [Fact]
    public async Task OpenConsole_WhenSignedInAsViewer_Answers403NotAllowed()
    {
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Viewer);

        foreach (var path in new[] { "/console", "/console/catalog", "/console/compliance/audit", "/console/events" })
        {
            var response = await session.GoAsync(path);

            Assert.Equal(403, response.Status);
            await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = "Not allowed", Level = 1 })).ToBeVisibleAsync();
        }

        // 403 is a refusal the browser reports as a failed resource load; that is the expected answer here.
        session.AssertNoErrors("403");
    }

    [Fact]
    public async Task FollowConsoleNavigation_WhenEachLinkClicked_LoadsItsPageWithoutBrowserErrors()
    {
        await using var session = await browser.OpenAsync();
        await session.GoAsync("/console");
        var nav = session.Page.GetByRole(AriaRole.Navigation, new() { Name = "Console" });

        (string Link, string Path, string Heading)[] pages =
        [
            ("Titles", "/console/catalog", "Titles"),
            ("Demand", "/console/catalog/demand", "Demand"), // below Titles' address: only Demand is marked
            ("Audit log", "/console/compliance/audit", "Audit log"),
            ("Events", "/console/events", "Events"),
            ("Overview", "/console", "Overview"),
        ];
        foreach (var (link, path, heading) in pages)
        {
            await nav.GetByRole(AriaRole.Link, new() { Name = link, Exact = true }).ClickAsync();

            await Expect(session.Page).ToHaveURLAsync(new Regex(Regex.Escape(path) + "$"));
            await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = heading, Level = 1 })).ToBeVisibleAsync();
            await Expect(nav.GetByRole(AriaRole.Link, new() { Name = link, Exact = true })).ToHaveClassAsync(new Regex(@"\bactive\b"));
            await Expect(nav.Locator("a.active")).ToHaveCountAsync(1);
        }

        session.AssertNoErrors();
    }

    [Fact]
    public async Task OpenApiReference_WhenLoaded_RendersOperationsWithoutBrowserErrors()
    {
        await using var session = await browser.OpenAsync();

        var response = await session.GoAsync("/api/reference", TimeSpan.FromSeconds(60));

        Assert.Equal(200, response.Status);
        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = "Marquee API", Level = 1 })).ToBeVisibleAsync(new() { Timeout = 60_000 });
        var sidebar = session.Page.GetByRole(AriaRole.Complementary, new() { Name = "Sidebar for Marquee API" });
        await Expect(sidebar.GetByRole(AriaRole.Link, new() { Name = "Catalog", Exact = true })).ToBeVisibleAsync();
        await Expect(sidebar.GetByRole(AriaRole.Link, new() { Name = "Compliance", Exact = true })).ToBeVisibleAsync();
        var csp = await response.HeaderValueAsync("content-security-policy");
        Assert.Matches("script-src 'self' 'nonce-[A-Za-z0-9_-]+';", csp);
        // Expected and harmless: Scalar's validation library probes whether Function('') may run, is refused by the
        // policy (no 'unsafe-eval'), and works without it. Chromium shows no console error for it; our listener sees it.
        session.AssertNoErrors("CSP violation: script-src blocked eval at " + new Uri(browser.BaseAddress, "/api/reference/scalar.js"));
    }
}
