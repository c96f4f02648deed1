using System.Security.Cryptography;
using System.Text;
using Marquee.Identity.Data;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Identity;

/// <summary>
/// Identity's Entity Framework store on the module's own context, except MFA recovery codes: Identity keeps those in
/// clear in the tokens table; here they are stored as SHA-256 hashes in their own table, each usable once. The TOTP
/// secret, which Identity also keeps in clear there, is stored encrypted with the key ring (Data Protection), so a copy
/// of the database alone does not give anyone the second factor (ASVS 13.3.1, R23).
/// </summary>
internal sealed class AccountStore(IdentityDb context, TimeProvider clock, IDataProtectionProvider protection, IdentityErrorDescriber? describer = null)
    : UserStore<Account, Role, IdentityDb, Guid, IdentityUserClaim<Guid>, IdentityUserRole<Guid>, IdentityUserLogin<Guid>, IdentityUserToken<Guid>, IdentityRoleClaim<Guid>, IdentityUserPasskey<Guid>>(context, describer)
{
    private readonly IDataProtector authenticatorKeys =
        protection.CreateProtector("Marquee.Identity.AuthenticatorKey.v1");

    public override Task SetAuthenticatorKeyAsync(Account user, string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        return base.SetAuthenticatorKeyAsync(user, authenticatorKeys.Protect(key), cancellationToken);
    }

    public override async Task<string?> GetAuthenticatorKeyAsync(Account user, CancellationToken cancellationToken)
    {
        var stored = await base.GetAuthenticatorKeyAsync(user, cancellationToken);
        return stored is null ? null : authenticatorKeys.Unprotect(stored);
    }

    public override async Task ReplaceCodesAsync(Account user, IEnumerable<string> recoveryCodes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(recoveryCodes);
        await Context.RecoveryCodes.Where(c => c.AccountId == user.Id).ExecuteDeleteAsync(cancellationToken);
        foreach (var code in recoveryCodes)
        {
            Context.RecoveryCodes.Add(new RecoveryCode { Id = Guid.NewGuid(), AccountId = user.Id, Hash = Hash(user.Id, code) });
        }

        await Context.SaveChangesAsync(cancellationToken);
    }

    public override async Task<bool> RedeemCodeAsync(Account user, string code, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(code);
        var hash = Hash(user.Id, code);
        var now = clock.GetUtcNow();
        // A conditional update: two requests with the same code cannot both redeem it.
        var redeemed = await Context.RecoveryCodes
            .Where(c => c.AccountId == user.Id && c.Hash == hash && c.UsedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.UsedAt, now), cancellationToken);
        return redeemed == 1;
    }

    public override async Task<int> CountCodesAsync(Account user, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        return await Context.RecoveryCodes.CountAsync(c => c.AccountId == user.Id && c.UsedAt == null, cancellationToken);
    }

    /// <summary>Recovery codes are random (50 bits or more), so a fast hash keyed by the account suffices.</summary>
    internal static string Hash(Guid account, string code) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{account:N}:{code.Trim().Replace("-", "", StringComparison.Ordinal).ToUpperInvariant()}")));
}
