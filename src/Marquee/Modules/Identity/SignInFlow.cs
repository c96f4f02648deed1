using System.Security.Claims;
using Marquee.Identity.Contracts;
using Marquee.Identity.Data;
using Microsoft.AspNetCore.Identity;

namespace Marquee.Identity;

/// <summary>The outcome of a password sign-in, without saying whether the account exists.</summary>
internal enum PasswordOutcome
{
    SignedIn,
    NeedsSecondFactor,
    Refused,
}

/// <summary>
/// Password sign-in for the page and the API. An unknown e-mail and a locked account cost the same work as a known
/// one (the password hasher runs once either way) and get the same answer, so that neither the answer nor the time
/// it takes tells whether an account exists.
/// </summary>
internal sealed class SignInFlow(
    SignInManager<Account> signIn,
    UserManager<Account> users,
    IPasswordHasher<Account> hasher,
    Accounts accounts,
    IdentityDb db,
    IHttpContextAccessor http,
    Microsoft.Extensions.Options.IOptions<AccountOptions> options,
    TimeProvider clock)
{
    /// <summary>A long-lived random cookie that marks a browser which has signed in before (for new-device events).</summary>
    public const string DeviceCookie = "__Host-marquee-device";

    /// <summary>One sentence for every refusal: wrong e-mail, wrong password, locked account.</summary>
    public const string RefusedMessage = "That e-mail and password do not match an account that can sign in now. Check them, or wait a few minutes if you tried several times.";

    private static readonly Lazy<(Account User, string Hash)> Decoy = new(() =>
    {
        var decoy = new Account { Id = Guid.Empty, UserName = "decoy", Email = "decoy@invalid" };
        return (decoy, new PasswordHasher<Account>().HashPassword(decoy, Accounts.RandomPassword()));
    });

    /// <summary>Checks the password (counting failures towards the lockout). For the page: a second factor is asked on the next page (Identity's two-factor cookie).</summary>
    public async Task<(PasswordOutcome Outcome, Account? Account)> PasswordAsync(string email, string password, bool persistent) =>
        await AtTheFloorAsync(TimeProvider.System.GetTimestamp(), await CheckPasswordAsync(email, password, persistent));

    /// <summary>
    /// A refusal answers no sooner than <see cref="AccountOptions.UniformAnswerFloor"/> after the request began. The paths
    /// differ in work (a known account's failure counter and security event are two database writes; an unknown e-mail
    /// has none): measured on an idle machine the known path's median was 21 ms slower (bench/identity-timing.sh), enough
    /// to tell which e-mails exist. Timed on the wall clock, whatever clock the business runs on.
    /// </summary>
    private async Task<(PasswordOutcome Outcome, Account? Account)> AtTheFloorAsync(long started, (PasswordOutcome Outcome, Account? Account) result)
    {
        if (result.Outcome == PasswordOutcome.Refused)
        {
            await AtTheFloorAsync(started);
        }

        return result;
    }

    /// <summary>Waits until <see cref="AccountOptions.UniformAnswerFloor"/> has passed since <paramref name="started"/> (a <see cref="TimeProvider.System"/> timestamp).</summary>
    public async Task AtTheFloorAsync(long started)
    {
        // A timer may fire a little early (its clock ticks in milliseconds): wait again for what is left, rounded up.
        while (options.Value.UniformAnswerFloor - TimeProvider.System.GetElapsedTime(started) is { Ticks: > 0 } rest)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(rest.TotalMilliseconds)), TimeProvider.System);
        }
    }

    private async Task<(PasswordOutcome Outcome, Account? Account)> CheckPasswordAsync(string email, string password, bool persistent)
    {
        var user = await users.FindByEmailAsync((email ?? "").Trim());
        if (user is null || await users.IsLockedOutAsync(user))
        {
            DecoyCheck(password);
            if (user is not null)
            {
                await users.AccessFailedAsync(user);
            }

            return (PasswordOutcome.Refused, null);
        }

        var result = await signIn.PasswordSignInAsync(user, password ?? "", persistent, lockoutOnFailure: true);
        if (result.Succeeded)
        {
            await SignedInAsync(user);
            return (PasswordOutcome.SignedIn, user);
        }

        if (result.RequiresTwoFactor)
        {
            return (PasswordOutcome.NeedsSecondFactor, user);
        }

        await FailedAsync(user, result.IsLockedOut);
        return (PasswordOutcome.Refused, user);
    }

    /// <summary>The page's second step: the TOTP or recovery code for the account the two-factor cookie names.</summary>
    public async Task<bool> SecondFactorAsync(string code, bool recovery)
    {
        var user = await signIn.GetTwoFactorAuthenticationUserAsync();
        if (user is null)
        {
            return false;
        }

        code = (code ?? "").Replace(" ", "", StringComparison.Ordinal);
        var result = recovery
            ? await signIn.TwoFactorRecoveryCodeSignInAsync(code)
            : await signIn.TwoFactorAuthenticatorSignInAsync(code, isPersistent: false, rememberClient: false);
        if (result.Succeeded)
        {
            await SignedInAsync(user);
            return true;
        }

        await FailedAsync(user, result.IsLockedOut);
        return false;
    }

    /// <summary>After any successful sign-in: a browser without the device cookie is a new device (an event), and gets one.</summary>
    public async Task SignedInAsync(Account user)
    {
        var context = http.HttpContext;
        if (context is null)
        {
            return;
        }

        if (!context.Request.Cookies.ContainsKey(DeviceCookie))
        {
            context.Response.Cookies.Append(DeviceCookie, Guid.NewGuid().ToString("N"), new CookieOptions
            {
                HttpOnly = true,
                Secure = true,
                SameSite = SameSiteMode.Lax,
                Path = "/",
                MaxAge = TimeSpan.FromDays(400),
                IsEssential = true,
            });
            await PublishAsync(user, SecurityEventKind.NewDeviceSignIn, context.Request.Headers.UserAgent.ToString() is { Length: > 0 } ua ? ua[..Math.Min(ua.Length, 300)] : null);
        }
    }

    private async Task FailedAsync(Account user, bool lockedNow)
    {
        await PublishAsync(user, SecurityEventKind.SignInFailed, null);
        if (lockedNow)
        {
            await PublishAsync(user, SecurityEventKind.LockedOut, null);
        }
    }

    public async Task PublishAsync(Account user, SecurityEventKind kind, string? details)
    {
        db.Publish(new SecurityEvent(user.Id, kind, user.Email ?? "", From(), clock.GetUtcNow(), details));
        await db.SaveChangesAsync();
    }

    private string? From() =>
        http.HttpContext?.Connection.RemoteIpAddress is { } ip ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString() : null;

    /// <summary>For the API: password and, when the account has MFA, the code (TOTP or a recovery code) in one request.</summary>
    public async Task<(PasswordOutcome Outcome, Account? Account)> PasswordAndCodeAsync(string email, string password, string? code) =>
        await AtTheFloorAsync(TimeProvider.System.GetTimestamp(), await CheckPasswordAndCodeAsync(email, password, code));

    private async Task<(PasswordOutcome Outcome, Account? Account)> CheckPasswordAndCodeAsync(string email, string password, string? code)
    {
        var user = await users.FindByEmailAsync((email ?? "").Trim());
        if (user is null || await users.IsLockedOutAsync(user))
        {
            DecoyCheck(password);
            if (user is not null)
            {
                await users.AccessFailedAsync(user);
            }

            return (PasswordOutcome.Refused, null);
        }

        var check = await signIn.CheckPasswordSignInAsync(user, password ?? "", lockoutOnFailure: true);
        if (!check.Succeeded)
        {
            await FailedAsync(user, check.IsLockedOut);
            return (PasswordOutcome.Refused, user);
        }

        var method = "pwd";
        if (await users.GetTwoFactorEnabledAsync(user))
        {
            if (string.IsNullOrWhiteSpace(code))
            {
                return (PasswordOutcome.NeedsSecondFactor, user);
            }

            var ok = await users.VerifyTwoFactorTokenAsync(user, TokenOptions.DefaultAuthenticatorProvider, code.Replace(" ", "", StringComparison.Ordinal))
                     || (await users.RedeemTwoFactorRecoveryCodeAsync(user, code)).Succeeded;
            if (!ok)
            {
                await users.AccessFailedAsync(user);
                await FailedAsync(user, await users.IsLockedOutAsync(user));
                return (PasswordOutcome.Refused, user);
            }

            method = "mfa";
        }

        await users.ResetAccessFailedCountAsync(user);
        await signIn.SignInWithClaimsAsync(user, isPersistent: false, [new Claim("amr", method)]);
        await SignedInAsync(user);
        return (PasswordOutcome.SignedIn, user);
    }

    public Task<Account?> FindAsync(string email) => accounts.FindAsync(email);

    /// <summary>Signs in an account whose factor was checked elsewhere (a passkey, a link): cookie, session row, new-device event.</summary>
    public async Task CompleteSignInAsync(Account user, string method)
    {
        await users.ResetAccessFailedCountAsync(user);
        await signIn.SignInWithClaimsAsync(user, isPersistent: false, [new Claim("amr", method)]);
        await SignedInAsync(user);
    }

    /// <summary>The password hasher's work for an account that does not exist (or cannot sign in now).</summary>
    public void DecoyCheck(string? password)
    {
        var (decoy, hash) = Decoy.Value;
        hasher.VerifyHashedPassword(decoy, hash, password ?? "");
    }
}
