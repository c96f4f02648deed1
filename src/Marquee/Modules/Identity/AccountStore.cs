using System.Security.Cryptography;
using System.Text;
using Marquee.Identity.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Identity;

/// <summary>
/// Identity's Entity Framework store on the module's own context, except MFA recovery codes: Identity keeps those in
/// clear in the tokens table; here they are stored as SHA-256 hashes in their own table, each usable once.
/// </summary>
internal sealed class AccountStore(IdentityDb context, TimeProvider clock, IdentityErrorDescriber? describer = null)
    : UserStore<Account, Role, IdentityDb, Guid, IdentityUserClaim<Guid>, IdentityUserRole<Guid>, IdentityUserLogin<Guid>, IdentityUserToken<Guid>, IdentityRoleClaim<Guid>, IdentityUserPasskey<Guid>>(context, describer)
{
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
