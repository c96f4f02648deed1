using Marquee.Platform.Events;

namespace Marquee.Identity.Contracts;

/// <summary>What happened to an account's security.</summary>
public enum SecurityEventKind
{
    AccountCreated,
    SignInFailed,
    LockedOut,
    MfaEnabled,
    MfaDisabled,
    PasskeyAdded,
    PasskeyRemoved,
    NewDeviceSignIn,
    PasswordChanged,
    PasswordReset,
    SessionRevoked,
    DeletionRequested,
    DeletionCancelled,
    MagicLinkSignIn,
}

/// <summary>
/// A security event of an account, published through the Identity module's outbox (with the change it describes,
/// when there is one); the Compliance module records each in the audit log as <c>identity.&lt;kind&gt;</c>.
/// </summary>
/// <param name="AccountId">The account.</param>
/// <param name="Kind">What happened.</param>
/// <param name="Email">The account's e-mail at the time.</param>
/// <param name="From">The client's IP address, when a request caused it.</param>
/// <param name="At">When.</param>
/// <param name="Details">A short text, e.g. a passkey's name.</param>
[EventName("identity.security-event.v1")]
[Marquee.Platform.Privacy.RedactAfterDelivery]
public sealed record SecurityEvent(Guid AccountId, SecurityEventKind Kind, string Email, string? From, DateTimeOffset At, string? Details = null) : IDomainEvent
{
    /// <summary>The audit action: <c>identity.sign-in-failed</c>, <c>identity.mfa-enabled</c>, ...</summary>
    public string Action => "identity." + string.Concat(Kind.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}

/// <summary>
/// An account was erased (after its deletion grace period, at once by its holder with the password, or by an admin);
/// every module holding personal data handles it: it deletes what it may and replaces the account in what it must keep
/// (ledger, invoices, audit lines) by <paramref name="Pseudonym"/>. The payload is blanked once every handler has run.
/// </summary>
/// <param name="AccountId">The erased account.</param>
/// <param name="RequestedAt">When the erasure was asked for.</param>
/// <param name="At">When the account was erased.</param>
/// <param name="Email">Its e-mail, to find it in free text (null in events from before the privacy round).</param>
/// <param name="DisplayName">Its display name, likewise.</param>
/// <param name="Pseudonym">The erasure's pseudonym, the same in every module (null in old events: handlers then derive one from the message id).</param>
[EventName("identity.account-deleted.v1")]
[Marquee.Platform.Privacy.RedactAfterDelivery(Erasure = true)]
public sealed record AccountDeleted(Guid AccountId, DateTimeOffset RequestedAt, DateTimeOffset At, string? Email = null, string? DisplayName = null, Guid? Pseudonym = null) : IDomainEvent
{
    /// <summary>The person as the modules' erasers see it.</summary>
    public Marquee.Platform.Privacy.DataSubject Subject(EventContext context) =>
        new(AccountId, Email, DisplayName, Pseudonym ?? context.MessageId);
}
