using System.Security.Claims;
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
internal sealed class SignInFlow(SignInManager<Account> signIn, UserManager<Account> users, IPasswordHasher<Account> hasher, Accounts accounts)
{
    /// <summary>One sentence for every refusal: wrong e-mail, wrong password, locked account.</summary>
    public const string RefusedMessage = "That e-mail and password do not match an account that can sign in now. Check them, or wait a few minutes if you tried several times.";

    private static readonly Lazy<(Account User, string Hash)> Decoy = new(() =>
    {
        var decoy = new Account { Id = Guid.Empty, UserName = "decoy", Email = "decoy@invalid" };
        return (decoy, new PasswordHasher<Account>().HashPassword(decoy, Accounts.RandomPassword()));
    });

    /// <summary>Checks the password (counting failures towards the lockout). For the page: a second factor is asked on the next page (Identity's two-factor cookie).</summary>
    public async Task<(PasswordOutcome Outcome, Account? Account)> PasswordAsync(string email, string password, bool persistent)
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
        return result.Succeeded ? (PasswordOutcome.SignedIn, user)
            : result.RequiresTwoFactor ? (PasswordOutcome.NeedsSecondFactor, user)
            : (PasswordOutcome.Refused, user);
    }

    /// <summary>For the API: password and, when the account has MFA, the code (TOTP or a recovery code) in one request.</summary>
    public async Task<(PasswordOutcome Outcome, Account? Account)> PasswordAndCodeAsync(string email, string password, string? code)
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
                return (PasswordOutcome.Refused, user);
            }

            method = "mfa";
        }

        await users.ResetAccessFailedCountAsync(user);
        await signIn.SignInWithClaimsAsync(user, isPersistent: false, [new Claim("amr", method)]);
        return (PasswordOutcome.SignedIn, user);
    }

    public Task<Account?> FindAsync(string email) => accounts.FindAsync(email);

    /// <summary>The password hasher's work for an account that does not exist (or cannot sign in now).</summary>
    public void DecoyCheck(string? password)
    {
        var (decoy, hash) = Decoy.Value;
        hasher.VerifyHashedPassword(decoy, hash, password ?? "");
    }
}
