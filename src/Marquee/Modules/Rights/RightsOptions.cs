namespace Marquee.Rights;

/// <summary>Bound from <c>Marquee:Rights</c>.</summary>
internal sealed class RightsOptions
{
    public const string Section = "Marquee:Rights";

    /// <summary>
    /// True: a title with no licence at all is refused ("not licensed"). False (the default): such a title plays, so that
    /// a fresh install and titles uploaded before any licence is entered stay playable; a title with licences is always
    /// held to them. Logged at start-up either way.
    /// </summary>
    public bool RequireLicence { get; set; }

    /// <summary>Days ahead of a licence's end at which an expiry alert is raised, once each.</summary>
    public List<int> ExpiryAlertDays { get; set; } = [30, 7, 1];

    /// <summary>How often the worker looks for licences about to expire (the check is idempotent; daily alerts need no more).</summary>
    public TimeSpan ExpiryCheckInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Largest signed document accepted (a scanned contract); the default form limit of 128 MB caps it too.</summary>
    public long MaxDocumentBytes { get; set; } = 50L * 1024 * 1024;
}
