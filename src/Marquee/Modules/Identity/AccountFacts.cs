using Marquee.Identity.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Identity;

/// <summary>Identity's <see cref="Contracts.IAccountFacts"/>: the embedded disposable-domain list and the account's creation time.</summary>
internal sealed class AccountFacts(IdentityDb db) : Contracts.IAccountFacts
{
    public bool IsDisposableEmail(string email)
    {
        var at = (email ?? "").LastIndexOf('@');
        return at >= 0 && at < email!.Length - 1 && EmbeddedLists.DisposableDomains.Contains(email[(at + 1)..].Trim());
    }

    public async Task<DateTimeOffset?> CreatedAtAsync(Guid accountId, CancellationToken cancellationToken) =>
        await db.Accounts.AsNoTracking().Where(a => a.Id == accountId).Select(a => (DateTimeOffset?)a.CreatedAt).FirstOrDefaultAsync(cancellationToken);
}
