namespace Marquee.Identity.Contracts;

/// <summary>Facts about an account for other modules' risk checks (Billing's fraud scoring).</summary>
public interface IAccountFacts
{
    /// <summary>True when the address's domain is on the disposable e-mail list Identity ships (the one sign-up risk uses).</summary>
    bool IsDisposableEmail(string email);

    /// <summary>When the account was created, or null when there is no such account.</summary>
    Task<DateTimeOffset?> CreatedAtAsync(Guid accountId, CancellationToken cancellationToken);
}
