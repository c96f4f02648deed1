using System.ComponentModel.DataAnnotations;

namespace Marquee.Identity;

/// <summary>Options of the Identity module, section <c>Marquee:Identity</c>.</summary>
internal sealed class AccountOptions
{
    public const string Section = "Marquee:Identity";

    /// <summary>Version of the terms of service a sign-up accepts (recorded with the time).</summary>
    [Required, MaxLength(40)]
    public string TermsVersion { get; set; } = "2026-11";

    /// <summary>Version of the privacy policy a sign-up accepts (recorded with the time).</summary>
    [Required, MaxLength(40)]
    public string PrivacyVersion { get; set; } = "2026-11";

    /// <summary>How long an e-mailed verification code works.</summary>
    public TimeSpan CodeLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Wrong codes allowed before a sign-up must start again.</summary>
    [Range(1, 20)]
    public int CodeAttempts { get; set; } = 5;

    /// <summary>How long a magic sign-in link works.</summary>
    public TimeSpan MagicLinkLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Failed sign-ins before an account is locked for <see cref="LockoutDuration"/>.</summary>
    [Range(1, 100)]
    public int LockoutAttempts { get; set; } = 5;

    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Sign-in, sign-up, verification and link requests allowed per client IP address per minute.</summary>
    [Range(1, 100_000)]
    public int RequestsPerMinutePerIp { get; set; } = 20;

    /// <summary>
    /// Refused sign-ins (unknown e-mail, wrong password or code, locked account) and link requests (sign-in link, password
    /// reset) answer no sooner than this after the request began, so that their time does not tell whether an account
    /// exists (R19). Zero turns it off.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00", "00:00:05")]
    public TimeSpan UniformAnswerFloor { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Minimum password length: 12 by default (ASVS 5.0 level 2 asks for at least 12; NIST 800-63B for at least 8), no composition rules.</summary>
    [Range(8, 64)]
    public int PasswordMinLength { get; set; } = 12;

    /// <summary>Maximum password length (NIST 800-63B: at least 64 must be allowed).</summary>
    [Range(64, 1024)]
    public int PasswordMaxLength { get; set; } = 128;

    /// <summary>Playback sessions an account may have live at once (the plan's value once Billing lands).</summary>
    [Range(1, 100)]
    public int MaxConcurrentStreams { get; set; } = 4;

    /// <summary>How long an account marked for deletion waits before the sweep erases it (signing in and cancelling keeps it).</summary>
    public TimeSpan DeletionGracePeriod { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How often the worker looks for accounts whose deletion grace period is over.</summary>
    public TimeSpan DeletionSweepInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Household profiles an account may have.</summary>
    [Range(1, 20)]
    public int MaxProfiles { get; set; } = 5;

    public MailOptions Mail { get; set; } = new();
}

/// <summary>How mail leaves: SMTP through MailKit when <see cref="SmtpHost"/> is set, else .eml files in a pickup folder.</summary>
internal sealed class MailOptions
{
    /// <summary>The sender address of every message.</summary>
    [Required]
    public string From { get; set; } = "Marquee <no-reply@localhost>";

    /// <summary>Folder for .eml files when no SMTP server is set; relative to the data folder. Default <c>mail</c>.</summary>
    public string PickupDir { get; set; } = "mail";

    public string? SmtpHost { get; set; }

    [Range(1, 65535)]
    public int SmtpPort { get; set; } = 587;

    /// <summary><c>StartTls</c> (default), <c>SslOnConnect</c>, <c>None</c> (only for a local mail catcher).</summary>
    public string SmtpSecurity { get; set; } = "StartTls";

    public string? SmtpUser { get; set; }

    public string? SmtpPassword { get; set; }

    /// <summary>
    /// How long one SMTP conversation (connect, authenticate, send) may take before the attempt is abandoned and retried
    /// later by the outbox (<c>Marquee:Events</c> retry delays and attempts). Default 30 s.
    /// </summary>
    public TimeSpan SmtpTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
