using System.Text.RegularExpressions;
using Marquee.BrowserTests.Support;
using Marquee.Platform.Web;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Identity;

/// <summary>
/// Deleting an account on /account asks for its password (re-authentication): a wrong one says so and changes nothing
/// (still signed in, the account not marked); the right one, with the box ticked, marks it and signs out.
/// </summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class AccountDeletionTests(BrowserFixture browser)
{
    [Fact]
    public async Task DeleteForm_WithAWrongPassword_SaysSoAndKeepsTheAccount_WithTheRightOne_SignsOut()
    {
        var email = $"deleting-{Guid.NewGuid():N}@marquee.test";
        var password = Marquee.Identity.Accounts.RandomPassword();
        await browser.App.CreateAccountAsync(email, password, [Roles.Viewer]);
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Anonymous);
        var page = session.Page;
        await session.GoAsync("/signin?ReturnUrl=%2Faccount");
        await page.GetByLabel("E-mail", new() { Exact = true }).FillAsync(email);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/account$"));

        await page.GetByLabel("Your password").FillAsync("not my password at all");
        await page.GetByLabel("Yes, delete my account").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete my account" }).ClickAsync();
        await Expect(page.Locator("#delete-problem")).ToContainTextAsync("The password is not right. Your account is not deleted.");
        await Expect(page.Locator("dl.facts")).ToContainTextAsync(email); // still signed in
        await Expect(page.Locator("#deletion-pending")).ToHaveCountAsync(0);

        await page.GetByLabel("Your password").FillAsync(password);
        await page.GetByLabel("Yes, delete my account").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete my account" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/signin\\?deleted=1$"));
        await session.GoAsync("/account");
        await Expect(page).ToHaveURLAsync(new Regex("/signin"));
        session.AssertNoErrors();
    }
}
