using System.Security.Cryptography;
using System.Text;
using Marquee.Identity.Contracts;
using Marquee.Identity.Data;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Identity;

/// <summary>
/// Sign-up with e-mail verification: the request stores a pending sign-up (password already hashed) and e-mails a
/// six-digit code; the account exists only once the code is given. Codes expire, allow a few attempts, work once.
/// For an e-mail that already has an account the same work is done and the same answer given; the e-mail sent says
/// so instead of carrying a code, so nobody but the owner of the address learns the account exists.
/// </summary>
internal sealed class SignUps(
    IdentityDb db,
    UserManager<Account> users,
    IPasswordHasher<Account> hasher,
    PasswordRules rules,
    Accounts accounts,
    IMailSender mail,
    IOptions<AccountOptions> options,
    Risk.SignUpRisk risk,
    TimeProvider clock)
{
    /// <summary>Validation before anything is stored (says nothing about existing accounts).</summary>
    public Dictionary<string, string[]> Check(SignUpRequest input)
    {
        var errors = new Dictionary<string, string[]>();
        var email = input.Email?.Trim() ?? "";
        if (email.Length is 0 or > 256 || !new System.ComponentModel.DataAnnotations.EmailAddressAttribute().IsValid(email) || !email.Contains('.', StringComparison.Ordinal))
        {
            errors["email"] = ["Enter your e-mail address, like name@example.com."];
        }

        if (rules.Check(input.Password, email) is { } problem)
        {
            errors["password"] = [problem];
        }

        if (input.AcceptTerms != true)
        {
            errors["acceptTerms"] = ["Accept the terms of service to create an account."];
        }

        if (input.AcceptPrivacy != true)
        {
            errors["acceptPrivacy"] = ["Accept the privacy policy to create an account."];
        }

        return errors;
    }

    /// <summary>Stores the pending sign-up and sends the e-mail. Call after <see cref="Check"/> found nothing.</summary>
    /// <param name="heldUntil">For a sign-up the risk scorer challenged: the code works only from then (the e-mail says so).</param>
    public async Task StartAsync(SignUpRequest input, CancellationToken cancellationToken, DateTimeOffset? heldUntil = null)
    {
        var o = options.Value;
        var now = clock.GetUtcNow();
        var email = input.Email!.Trim();
        var normalized = users.NormalizeEmail(email);
        var existing = await users.FindByEmailAsync(email);

        // The same work either way: hash the password, make and hash a code, store a row, send one e-mail.
        var draft = accounts.NewAccount(email);
        var code = RandomNumberGenerator.GetInt32(0, 1_000_000).ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
        var pending = new PendingSignUp
        {
            Id = Guid.NewGuid(),
            Email = email,
            NormalizedEmail = normalized,
            PasswordHash = hasher.HashPassword(draft, input.Password!),
            CodeHash = "",
            CreatedAt = now,
            ExpiresAt = now + o.CodeLifetime,
            TermsVersion = o.TermsVersion,
            PrivacyVersion = o.PrivacyVersion,
            AcceptedAt = now,
        };
        // For an existing account the stored hash is of a code nobody is sent: verification can only fail.
        pending.CodeHash = CodeHash(pending.Id, existing is null ? code : RandomNumberGenerator.GetHexString(32));

        // A new sign-up replaces the earlier ones of the same address.
        await db.PendingSignUps.Where(p => p.NormalizedEmail == normalized && p.CompletedAt == null).ExecuteDeleteAsync(cancellationToken);
        db.PendingSignUps.Add(pending);
        await db.SaveChangesAsync(cancellationToken);

        if (existing is null)
        {
            await mail.SendAsync(email, $"Your Marquee code: {code}",
                $"Your code to finish creating your Marquee account is {code}.{Environment.NewLine}{Environment.NewLine}It works once, for {(int)o.CodeLifetime.TotalMinutes} minutes.{(heldUntil is { } h ? $" For this sign-up it works only from {h.UtcDateTime:yyyy-MM-dd HH:mm} UTC." : "")} If you did not ask for it, ignore this e-mail: no account is created without it.",
                cancellationToken);
        }
        else
        {
            await mail.SendAsync(email, "Someone tried to create a Marquee account with your address",
                $"Someone (maybe you) asked to create a Marquee account with this address, which already has one.{Environment.NewLine}{Environment.NewLine}To use it, sign in; if you forgot the password, use 'Forgot your password?' on the sign-in page. If it was not you, you need not do anything.",
                cancellationToken);
        }
    }

    /// <summary>The account, when the code is right, in time, and within its attempts; else null (one answer for every failure).</summary>
    public async Task<Account?> VerifyAsync(string? email, string? code, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var normalized = users.NormalizeEmail((email ?? "").Trim());
        var pending = await db.PendingSignUps
            .Where(p => p.NormalizedEmail == normalized && p.CompletedAt == null)
            .OrderByDescending(p => p.CreatedAt)
            .FirstOrDefaultAsync(cancellationToken);
        if (pending is null || pending.ExpiresAt <= now || pending.Attempts >= options.Value.CodeAttempts)
        {
            return null;
        }

        if (await risk.HeldUntilAsync(pending.Email, cancellationToken) is not null)
        {
            return null; // a challenged sign-up: not yet (costs no attempt)
        }

        var given = (code ?? "").Trim().Replace(" ", "", StringComparison.Ordinal);
        var right = CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(CodeHash(pending.Id, given)), Encoding.ASCII.GetBytes(pending.CodeHash));
        // Count the attempt and, when right, complete it in one conditional update: a code works once, even when two
        // requests race with it.
        var attempts = pending.Attempts;
        var updated = await db.PendingSignUps
            .Where(p => p.Id == pending.Id && p.CompletedAt == null && p.Attempts == attempts)
            .ExecuteUpdateAsync(s => s
                .SetProperty(p => p.Attempts, attempts + 1)
                .SetProperty(p => p.CompletedAt, right ? now : null), cancellationToken);
        if (updated != 1 || !right)
        {
            return null;
        }

        var account = accounts.NewAccount(pending.Email);
        account.PasswordHash = pending.PasswordHash;
        account.TermsVersion = pending.TermsVersion;
        account.PrivacyVersion = pending.PrivacyVersion;
        account.TermsAcceptedAt = pending.AcceptedAt;
        account.PrivacyAcceptedAt = pending.AcceptedAt;
        await accounts.EnsureRolesAsync(cancellationToken);
        db.Publish(new SecurityEvent(account.Id, SecurityEventKind.AccountCreated, account.Email!, null, now));
        var created = await users.CreateAsync(account); // saves the account with the event in one transaction
        if (!created.Succeeded)
        {
            return null; // the address got an account meanwhile
        }

        await users.AddToRoleAsync(account, Roles.Viewer);
        return account;
    }

    private static string CodeHash(Guid id, string code) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{id:N}:{code}")));
}

/// <param name="FormToken">The sign-up page's signed render time (the risk scorer's fast-form signal); API clients may omit it.</param>
internal sealed record SignUpRequest(string? Email, string? Password, bool? AcceptTerms, bool? AcceptPrivacy, string? FormToken = null);

internal sealed record VerifyRequest(string? Email, string? Code);
