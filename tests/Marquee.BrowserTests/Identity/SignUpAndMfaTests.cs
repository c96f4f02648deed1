using System.Text.RegularExpressions;
using Marquee.BrowserTests.Support;
using Marquee.Tests.Support;
using Microsoft.Playwright;
using OtpNet;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Identity;

/// <summary>The Identity issue's "done when": sign up, verify by the e-mailed code, enrol TOTP, sign out, sign in with password and TOTP.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed partial class SignUpAndMfaTests(BrowserFixture browser)
{
    [Fact]
    public async Task SignUp_ThenEnrolTotp_ThenSignInWithPasswordAndCode()
    {
        var email = $"viewer-{Guid.NewGuid():N}@example.com";
        const string password = "four plain words together";
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Anonymous);
        var page = session.Page;

        // Sign up: e-mail, password, the terms and the privacy policy.
        await session.GoAsync("/signup");
        await page.GetByLabel("E-mail").FillAsync(email);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByLabel("I accept the terms of service").CheckAsync();
        await page.GetByLabel("I accept the privacy policy").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Send me a code" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Enter your code", Level = 1 })).ToBeVisibleAsync();

        // The code from the captured mail (the pickup folder).
        await page.GetByLabel("Code").FillAsync(await CodeFromMailAsync(browser.App, email));
        await page.GetByRole(AriaRole.Button, new() { Name = "Create my account" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/account\\?welcome=1$"));
        await Expect(page.GetByRole(AriaRole.Status).First).ToContainTextAsync("Your account is ready");

        // Enrol TOTP: the key from the page, the code computed here as an authenticator app would.
        await Expect(page.GetByRole(AriaRole.Img, new() { Name = "QR code for your authenticator app" })).ToBeVisibleAsync();
        // Visible is not loaded: wait (Playwright's own deadline) until the image has decoded; a loaded machine takes a while.
        await page.WaitForFunctionAsync("() => { const img = document.querySelector('img.qr'); return img && img.complete && img.naturalWidth > 0; }");
        var key = (await page.Locator("#totp-key").InnerTextAsync()).Replace(" ", "", StringComparison.Ordinal).ToUpperInvariant();
        var totp = new Totp(Base32Encoding.ToBytes(key));
        await page.GetByLabel("Code from the app").FillAsync(totp.ComputeTotp());
        await page.GetByRole(AriaRole.Button, new() { Name = "Turn on two-step sign-in" }).ClickAsync();
        await Expect(page.Locator("#mfa-state")).ToContainTextAsync("On:");
        await Expect(page.Locator("#recovery-codes li")).ToHaveCountAsync(10);

        // Sign out, then in again: password, then the code of the next time step (the one used is refused as a replay).
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Navigation, new() { Name = "Main" }).GetByRole(AriaRole.Link, new() { Name = "Sign in", Exact = true })).ToBeVisibleAsync();
        await session.GoAsync("/signin");
        await page.GetByLabel("E-mail", new() { Exact = true }).FillAsync(email);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Enter the code from your app", Level = 1 })).ToBeVisibleAsync();
        var next = totp.ComputeTotp(TimeProvider.System.GetUtcNow().AddSeconds(30).UtcDateTime);
        await page.GetByLabel("Code").FillAsync(next);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Navigation, new() { Name = "Main" }).GetByRole(AriaRole.Link, new() { Name = "Account" })).ToBeVisibleAsync();
        await session.GoAsync("/account");
        await Expect(page.Locator("dl.facts")).ToContainTextAsync(email);
        await Expect(page.Locator("#mfa-state")).ToContainTextAsync("On:");
        session.AssertNoErrors();
    }

    private static async Task<string> CodeFromMailAsync(MarqueeApp app, string email)
    {
        var folder = Path.Combine(app.DataDir, "mail");
        var text = await Poll.UntilAsync(async () =>
        {
            foreach (var file in Directory.Exists(folder) ? Directory.GetFiles(folder, "*.eml") : [])
            {
                var content = await File.ReadAllTextAsync(file);
                if (content.Contains(email, StringComparison.OrdinalIgnoreCase))
                {
                    return content;
                }
            }

            return null;
        }, t => t is not null, TimeSpan.FromSeconds(10), "the code e-mail");
        return CodePattern().Match(text!).Groups[1].Value;
    }

    [GeneratedRegex(@"Your Marquee code: (\d{6})")]
    private static partial Regex CodePattern();
}
