using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Marquee.BrowserTests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Billing;

/// <summary>Checkout in a browser: choose a plan, pay with a sandbox card (and through its 3-D Secure page), cancel at period end.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class CheckoutPageTests(BrowserFixture browser)
{
    private async Task<string> PlanAsync()
    {
        var code = $"p{Guid.NewGuid():N}"[..12];
        var response = await browser.App.Client.PostAsJsonAsync("/api/billing/plans", new
        {
            code, name = $"Plan {code}", period = "Monthly", prices = new Dictionary<string, long> { ["EUR"] = 899 }, maxHeight = 1080, streams = 2,
        });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return code;
    }

    [Fact]
    public async Task Subscribe_WithTheSuccessCard_ThenCancelAtPeriodEnd()
    {
        var code = await PlanAsync();
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Viewer);
        var page = session.Page;

        await session.GoAsync("/plans");
        await page.Locator($"#plan-{code} a").ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex($"/checkout/{code}$"));
        await page.GetByLabel("Country (two letters, for tax)").FillAsync("DE");
        await page.GetByLabel("Card number").FillAsync("4242 4242 4242 4242");
        await page.GetByRole(AriaRole.Button, new() { Name = "Pay and subscribe" }).ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/account/billing\\?welcome=1$"));
        await Expect(page.Locator("#billing-welcome")).ToBeVisibleAsync();
        await Expect(page.Locator("#subscription-status")).ToHaveTextAsync("Active");
        await Expect(page.Locator("#invoices")).ToContainTextAsync("8.99 EUR"); // the shared host has no tax rates configured

        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel at the end of the period" }).ClickAsync();
        await Expect(page.Locator("#subscription-status")).ToContainTextAsync("ends at the end of the period");
        session.AssertNoErrors();
    }

    [Fact]
    public async Task Subscribe_WithTheThreeDSecureCard_ConfirmsOnTheSandboxPage()
    {
        var code = await PlanAsync();
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Viewer);
        var page = session.Page;

        await session.GoAsync($"/checkout/{code}");
        await page.GetByLabel("Country (two letters, for tax)").FillAsync("FR");
        await page.GetByLabel("Card number").FillAsync("4000000000003220");
        await page.GetByRole(AriaRole.Button, new() { Name = "Pay and subscribe" }).ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/billing/sandbox/3ds/ch_"));
        await Expect(page.Locator("#challenge-amount")).ToContainTextAsync("8.99 EUR");
        await page.GetByRole(AriaRole.Button, new() { Name = "Confirm" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/account/billing\\?welcome=1$"));
        await Expect(page.Locator("#subscription-status")).ToHaveTextAsync("Active");
        session.AssertNoErrors();
    }
}
