using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Marquee.BrowserTests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Billing;

/// <summary>
/// A coupon from the console to the invoice: finance creates a 20 % coupon with a promo code on /console/billing/coupons,
/// a viewer applies the code at checkout (an unknown code is refused in words), sees the discounted price, pays it, and the
/// console counts the redemption.
/// </summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class CouponCheckoutTests(BrowserFixture browser)
{
    [Fact]
    public async Task CreateCoupon_InTheConsole_ThenApplyItsPromoCodeAtCheckout()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var plan = $"p{suffix}";
        var response = await browser.App.Client.PostAsJsonAsync("/api/billing/plans", new
        {
            code = plan, name = $"Plan {plan}", period = "Monthly", prices = new Dictionary<string, long> { ["EUR"] = 899 }, maxHeight = 1080, streams = 2,
        });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var promo = $"LAUNCH{suffix}".ToUpperInvariant();

        await using var console = await browser.OpenAsync();
        var admin = console.Page;
        await console.GoAsync("/console/billing/coupons");
        await admin.GetByLabel("Code (lower case, digits, dashes)").FillAsync($"launch-{suffix}");
        await admin.GetByLabel("Name (shown on invoices)").FillAsync("Launch offer");
        await admin.GetByLabel("Percent off").FillAsync("20");
        await admin.GetByLabel("Redemptions in all (empty: no limit)").FillAsync("5");
        await admin.GetByLabel("Plans (codes, comma-separated; empty: all)").FillAsync(plan);
        await admin.GetByLabel("Promo codes (comma-separated)").FillAsync(promo.ToLowerInvariant());
        await admin.GetByRole(AriaRole.Button, new() { Name = "Create the coupon" }).ClickAsync();
        var row = admin.Locator($"#coupon-launch-{suffix}");
        await Expect(row).ToContainTextAsync("20 %");
        await Expect(row).ToContainTextAsync(promo);
        await Expect(row).ToContainTextAsync("0 of 5");

        await using var shopper = await browser.OpenAsync(signedIn: BrowserFixture.As.Viewer);
        var page = shopper.Page;
        await shopper.GoAsync($"/checkout/{plan}");
        await page.GetByLabel("Promo code (optional)").FillAsync("NO-SUCH-CODE");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply" }).ClickAsync();
        await Expect(page.Locator("#checkout-error")).ToContainTextAsync("There is no promo code 'NO-SUCH-CODE'");
        await Expect(page.Locator("#checkout-quote")).ToHaveCountAsync(0);

        await page.GetByLabel("Promo code (optional)").FillAsync(promo.ToLowerInvariant());
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply" }).ClickAsync();
        var quote = page.Locator("#checkout-quote");
        await Expect(quote).ToContainTextAsync("7.19 EUR instead of 8.99 EUR on the first charge"); // 20 % of 8.99 is 1.798, rounded to 1.80
        await Expect(page.Locator("#checkout-error")).ToHaveCountAsync(0);

        await page.GetByLabel("Country (two letters, for tax)").FillAsync("DE");
        await page.GetByLabel("Card number").FillAsync("4242 4242 4242 4242");
        await page.GetByRole(AriaRole.Button, new() { Name = "Pay and subscribe" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/account/billing\\?welcome=1$"));
        await Expect(page.Locator("#invoices")).ToContainTextAsync("7.19 EUR"); // the shared host has no tax rates configured

        await console.GoAsync("/console/billing/coupons");
        await Expect(row).ToContainTextAsync("1 of 5");
        shopper.AssertNoErrors();
        console.AssertNoErrors();
    }
}
