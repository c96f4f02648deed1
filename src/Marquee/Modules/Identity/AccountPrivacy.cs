using System.Security.Claims;
using System.Text.Json.Nodes;
using Marquee.Identity.Contracts;
using Marquee.Identity.Data;
using Marquee.Identity.Oidc;
using Marquee.Identity.Risk;
using Marquee.Platform.Privacy;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using OpenIddict.EntityFrameworkCore.Models;

namespace Marquee.Identity;

/// <summary>What Identity holds about an account, for the export: the account and its consents, roles, profiles, sessions, passkeys, sign-up risk decisions.</summary>
internal sealed class IdentityPersonalData(IdentityDb db, RiskDb risk) : IPersonalData
{
    public string Section => "identity";

    public async Task<object?> ExportAsync(Guid accountId, CancellationToken cancellationToken)
    {
        if (await db.Accounts.AsNoTracking().SingleOrDefaultAsync(a => a.Id == accountId, cancellationToken) is not { } a)
        {
            return null;
        }

        var roles = await db.AccountRoles.AsNoTracking().Where(r => r.UserId == accountId)
            .Join(db.Roles.AsNoTracking(), ur => ur.RoleId, r => r.Id, (_, r) => r.Name!).OrderBy(n => n).ToListAsync(cancellationToken);
        var profiles = (await db.Profiles.AsNoTracking().Where(p => p.AccountId == accountId).ToListAsync(cancellationToken))
            .OrderBy(p => p.CreatedAt)
            .Select(p => new { p.Id, p.Name, p.IsKids, p.MaturityLimit, hasPin = p.PinHash != null, p.Language, p.CreatedAt }).ToList();
        var sessions = (await db.Sessions.AsNoTracking().Where(s => s.AccountId == accountId).ToListAsync(cancellationToken))
            .OrderBy(s => s.CreatedAt)
            .Select(s => new { s.Id, device = s.UserAgent, s.Ip, s.Country, s.Method, s.CreatedAt, s.LastSeenAt, s.RevokedAt }).ToList();
        var passkeys = (await db.Passkeys.AsNoTracking().Where(p => p.UserId == accountId).ToListAsync(cancellationToken))
            .Select(p => new { p.Data.Name, p.Data.CreatedAt }).OrderBy(p => p.CreatedAt).ToList();
        var normalized = a.NormalizedEmail ?? "";
        var decisions = (await risk.Decisions.AsNoTracking().Where(d => d.Email == normalized || d.Email == a.Email).ToListAsync(cancellationToken))
            .OrderBy(d => d.At)
            .Select(d => new { d.At, d.Ip, d.UserAgent, d.Score, outcome = d.Outcome.ToString() }).ToList();
        return new
        {
            account = new
            {
                a.Id, a.Email, a.EmailConfirmed, a.DisplayName, a.PhoneNumber, a.CreatedAt, twoFactor = a.TwoFactorEnabled,
                a.DeletionRequestedAt, a.DeleteAfter,
            },
            consents = new { terms = new { version = a.TermsVersion, acceptedAt = a.TermsAcceptedAt }, privacy = new { version = a.PrivacyVersion, acceptedAt = a.PrivacyAcceptedAt } },
            roles,
            profiles,
            sessions,
            passkeys,
            signUpChecks = decisions,
        };
    }
}

/// <summary>Builds the export of one account: one section per module that holds personal data (every <see cref="IPersonalData"/>).</summary>
internal sealed class PersonalDataExport(IEnumerable<IPersonalData> modules, TimeProvider clock)
{
    public async Task<JsonObject> ExportAsync(Guid accountId, CancellationToken cancellationToken)
    {
        var export = new JsonObject
        {
            ["accountId"] = accountId,
            ["exportedAt"] = clock.GetUtcNow(),
        };
        foreach (var module in modules.OrderBy(m => m.Section, StringComparer.Ordinal))
        {
            var data = await module.ExportAsync(accountId, cancellationToken);
            export[module.Section] = data is null ? null : System.Text.Json.JsonSerializer.SerializeToNode(data, data.GetType(), PrivacyJson.Options);
        }

        return export;
    }
}

internal static class PrivacyJson
{
    public static readonly System.Text.Json.JsonSerializerOptions Options = new(System.Text.Json.JsonSerializerDefaults.Web);
}

/// <summary>
/// Erases one account now: Identity's own data first (sign-in links, pending sign-ups, sign-up risk decisions, OpenID
/// Connect grants, the outbox messages that name it), then the account row itself (cascading to roles, claims, logins,
/// tokens, passkeys, recovery codes, sessions, profiles) with <see cref="AccountDeleted"/> in the same transaction, so
/// that every other module erases its part at least once, through the outbox; then the messages to it kept in the mail
/// pickup folder. Safe to repeat until the last step commits. Before the commit the account id and time go to the
/// <see cref="ErasureRegister"/>, so that a restore of an older backup erases the account again.
/// </summary>
internal sealed class AccountEraser(IdentityDb db, RiskDb risk, OidcDb oidc, IMailSender mail, ErasureRegister register, TimeProvider clock)
{
    public async Task EraseAsync(Account account, CancellationToken cancellationToken) => await EraseAsync(account, record: true, cancellationToken);

    /// <summary>
    /// After a restore: erases again an account the register names (erased after the backup was taken), through the same
    /// steps as the first time (not recorded again). When the restored database no longer has the account, its erasure's
    /// event is published again (without e-mail or name, which are gone): every module's eraser runs for the id once more,
    /// for data restored from a copy taken at another time (the analytics warehouse beside a PostgreSQL dump). True when
    /// the account was there.
    /// </summary>
    public async Task<bool> EraseAgainAsync(Guid accountId, DateTimeOffset erasedAt, CancellationToken cancellationToken)
    {
        if (await db.Accounts.SingleOrDefaultAsync(a => a.Id == accountId, cancellationToken) is { } account)
        {
            account.DeletionRequestedAt ??= erasedAt;
            await EraseAsync(account, record: false, cancellationToken);
            return true;
        }

        db.Publish(new AccountDeleted(accountId, erasedAt, clock.GetUtcNow(), null, null, Guid.NewGuid()));
        await db.SaveChangesAsync(cancellationToken);
        return false;
    }

    private async Task EraseAsync(Account account, bool record, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var subject = new DataSubject(account.Id, account.Email, account.DisplayName, Guid.NewGuid());
        var id = account.Id.ToString();
        var emails = new[] { account.Email, account.NormalizedEmail }.Where(e => e is not null).Select(e => e!).ToList();
        await risk.Decisions.Where(d => emails.Contains(d.Email)).ExecuteDeleteAsync(cancellationToken);
        await PersonalDataScrub.ScrubOutboxAsync(risk, subject, cancellationToken);
        await oidc.Set<OpenIddictEntityFrameworkCoreToken>().Where(t => t.Subject == id).ExecuteDeleteAsync(cancellationToken);
        await oidc.Set<OpenIddictEntityFrameworkCoreAuthorization>().Where(t => t.Subject == id).ExecuteDeleteAsync(cancellationToken);
        await PersonalDataScrub.ScrubOutboxAsync(oidc, subject, cancellationToken);

        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.MagicLinks.Where(m => m.AccountId == account.Id).ExecuteDeleteAsync(cancellationToken);
        await db.PendingSignUps.Where(p => emails.Contains(p.NormalizedEmail) || emails.Contains(p.Email)).ExecuteDeleteAsync(cancellationToken);
        await PersonalDataScrub.ScrubOutboxAsync(db, subject, cancellationToken);
        db.Accounts.Remove(account);
        db.Publish(new AccountDeleted(account.Id, account.DeletionRequestedAt ?? now, now, account.Email, account.DisplayName, subject.Pseudonym));
        await db.SaveChangesAsync(cancellationToken);
        if (record)
        {
            register.Record(account.Id, now);
        }

        await tx.CommitAsync(cancellationToken);

        // The messages kept in the pickup folder (no SMTP server configured) go too.
        foreach (var email in emails.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            await mail.ForgetAsync(email, CancellationToken.None);
        }
    }
}

/// <summary>Erasure at once: by the holder (password re-confirmed) or by an admin for a data-subject request.</summary>
internal sealed class AccountErasureRequests(IdentityDb db, UserManager<Account> users, SignInManager<Account> signIn, AccountEraser eraser, TimeProvider clock)
{
    /// <summary>Null when erased, else the reason it was refused.</summary>
    public async Task<string?> EraseSelfAsync(ClaimsPrincipal principal, string? password, CancellationToken cancellationToken)
    {
        if (await users.GetUserAsync(principal) is not { } user)
        {
            return "Sign in again.";
        }

        if (!await users.HasPasswordAsync(user))
        {
            return "This account has no password: ask for deletion with the grace period instead.";
        }

        if (string.IsNullOrEmpty(password) || !await users.CheckPasswordAsync(user, password))
        {
            return "The password is not right.";
        }

        user.DeletionRequestedAt ??= clock.GetUtcNow();
        await eraser.EraseAsync(user, cancellationToken);
        await signIn.SignOutAsync();
        return null;
    }

    /// <summary>False when there is no such account.</summary>
    public async Task<bool> EraseAsync(Guid accountId, CancellationToken cancellationToken)
    {
        if (await db.Accounts.SingleOrDefaultAsync(a => a.Id == accountId, cancellationToken) is not { } account)
        {
            return false;
        }

        account.DeletionRequestedAt ??= clock.GetUtcNow();
        await eraser.EraseAsync(account, cancellationToken);
        return true;
    }
}

internal sealed record ErasureConfirm(string? Password);
