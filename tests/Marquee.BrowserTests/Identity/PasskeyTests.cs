using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.BrowserTests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Identity;

/// <summary>
/// The Identity issue's "done when" for passkeys: Chromium's virtual authenticator (DevTools WebAuthn domain) registers a
/// passkey on /account, and the passkey alone signs in on /signin.
/// </summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class PasskeyTests(BrowserFixture browser)
{
    [Fact]
    public async Task Passkey_RegisteredOnAccountPage_SignsInAlone_ThenRenamedAndRemoved()
    {
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Viewer);
        var page = session.Page;
        var cdp = await page.Context.NewCDPSessionAsync(page);
        await cdp.SendAsync("WebAuthn.enable");
        var added = await cdp.SendAsync("WebAuthn.addVirtualAuthenticator", new Dictionary<string, object>
        {
            ["options"] = new Dictionary<string, object>
            {
                ["protocol"] = "ctap2",
                ["transport"] = "internal",
                ["hasResidentKey"] = true,
                ["hasUserVerification"] = true,
                ["isUserVerified"] = true,
            },
        });

        var authenticator = added!.Value.GetProperty("authenticatorId").GetString()!;

        // Register: the account page asks the server for options, the authenticator makes the credential.
        await session.GoAsync("/account");
        var email = (await page.Locator("dl.facts dd").First.InnerTextAsync()).Trim();
        await Expect(page.Locator("#no-passkeys")).ToBeVisibleAsync();
        await page.GetByLabel("Name of the new passkey").FillAsync("Test laptop");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add a passkey" }).ClickAsync();
        await Expect(page.Locator("#passkey-name-0")).ToHaveValueAsync("Test laptop");

        // Sign out, then in with the passkey alone (no e-mail, no password).
        await page.GetByRole(AriaRole.Navigation, new() { Name = "Main" }).GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Navigation, new() { Name = "Main" }).GetByRole(AriaRole.Link, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await session.GoAsync("/signin?ReturnUrl=%2Faccount");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in with a passkey" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/account$"));
        await Expect(page.Locator("dl.facts")).ToContainTextAsync(email);
        await Expect(page.Locator("#sessions")).ToContainTextAsync("(passkey)");

        // Rename, then remove.
        await page.Locator("#passkey-name-0").FillAsync("Work laptop");
        await page.GetByRole(AriaRole.Button, new() { Name = "Rename" }).ClickAsync();
        await Expect(page.Locator("#passkey-name-0")).ToHaveValueAsync("Work laptop");
        await page.GetByRole(AriaRole.Button, new() { Name = "Remove" }).ClickAsync();
        await Expect(page.Locator("#no-passkeys")).ToBeVisibleAsync();

        // A removed passkey no longer signs in (the authenticator still holds it).
        await page.GetByRole(AriaRole.Navigation, new() { Name = "Main" }).GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await session.GoAsync("/signin");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in with a passkey" }).ClickAsync();
        await Expect(page.Locator("#passkey-signin-status")).ToContainTextAsync("did not sign you in");
        var credentials = await cdp.SendAsync("WebAuthn.getCredentials", new Dictionary<string, object> { ["authenticatorId"] = authenticator });
        Assert.Equal(1, credentials?.GetProperty("credentials").GetArrayLength());
        session.AssertNoErrors("401 (Unauthorized)");
    }
}
