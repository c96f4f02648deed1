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
public sealed record SecurityEvent(Guid AccountId, SecurityEventKind Kind, string Email, string? From, DateTimeOffset At, string? Details = null) : IDomainEvent
{
    /// <summary>The audit action: <c>identity.sign-in-failed</c>, <c>identity.mfa-enabled</c>, ...</summary>
    public string Action => "identity." + string.Concat(Kind.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}

/// <summary>An account was erased after its deletion grace period; modules drop or anonymise what they hold for it.</summary>
[EventName("identity.account-deleted.v1")]
public sealed record AccountDeleted(Guid AccountId, DateTimeOffset RequestedAt, DateTimeOffset At) : IDomainEvent;
