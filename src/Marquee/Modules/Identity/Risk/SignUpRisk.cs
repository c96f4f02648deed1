using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Identity.Risk;

/// <summary>Sign-up risk scoring, section <c>Marquee:Identity:Risk</c>.</summary>
internal sealed class RiskOptions
{
    public const string Section = "Marquee:Identity:Risk";

    /// <summary>From this score on, the e-mailed code works only after <see cref="ChallengeDelay"/>.</summary>
    [Range(1, 1000)]
    public int ChallengeThreshold { get; set; } = 50;

    /// <summary>From this score on, the sign-up is refused with a generic message.</summary>
    [Range(1, 1000)]
    public int BlockThreshold { get; set; } = 90;

    /// <summary>How long a challenged sign-up's code is held back (a cooling-off that defeats bulk scripts).</summary>
    public TimeSpan ChallengeDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Sign-up requests per minute from one /24 (IPv4) or /48 (IPv6) network before answering 429.</summary>
    [Range(1, 100_000)]
    public int SignUpsPerMinutePerSubnet { get; set; } = 30;

    /// <summary>A sign-up form sent sooner than this after it was shown was filled by a program.</summary>
    public TimeSpan MinimumFormTime { get; set; } = TimeSpan.FromSeconds(3);
}

/// <summary>A scored request: the outcome, the score and why.</summary>
internal sealed record RiskAssessment(RiskOutcome Outcome, int Score, IReadOnlyList<string> Reasons, DateTimeOffset? HeldUntil);

/// <summary>
/// Scores a sign-up request from signals: velocity per IP and per subnet (from the stored decisions), a disposable
/// e-mail domain, a headless or scripted client, a form filled impossibly fast (the page's signed render time), and a
/// device fingerprint already used for other sign-ups. Every decision is stored with its reasons.
/// </summary>
internal sealed partial class SignUpRisk(RiskDb db, IOptions<RiskOptions> options, IDataProtectionProvider protection, TimeProvider clock)
{
    /// <summary>The header a non-browser client may send with a stable device identifier (hashed before storing).</summary>
    public const string DeviceHeader = "X-Marquee-Device";

    private ITimeLimitedDataProtector FormProtector => protection.CreateProtector("Marquee.Identity.SignUpForm.v1").ToTimeLimitedDataProtector();

    /// <summary>The sign-up form's hidden field: its render time, signed (and valid for an hour).</summary>
    public string FormToken() => FormProtector.Protect(clock.GetUtcNow().UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture), clock.GetUtcNow() + TimeSpan.FromHours(1));

    public async Task<RiskAssessment> AssessAsync(HttpContext http, string email, string? formToken, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        var o = options.Value;
        var now = clock.GetUtcNow();
        var ip = http.Connection.RemoteIpAddress is { } address ? (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address) : null;
        var subnet = ip is null ? null : Subnet(ip);
        var ipText = ip?.ToString();
        var normalized = email.Trim().ToUpperInvariant();
        var fingerprint = Fingerprint(http);
        var reasons = new List<string>();
        var score = 0;
        void Add(string signal, int points, string detail)
        {
            score += points;
            reasons.Add($"{signal} (+{points}): {detail}");
        }

        // Velocity: the decisions stored for this subnet and address.
        var minuteAgo = now - TimeSpan.FromMinutes(1);
        var tenMinutesAgo = now - TimeSpan.FromMinutes(10);
        var subnetLastMinute = subnet is null ? 0 : await db.Decisions.CountAsync(d => d.Subnet == subnet && d.At > minuteAgo, cancellationToken);
        var subnetTenMinutes = subnet is null ? 0 : await db.Decisions.CountAsync(d => d.Subnet == subnet && d.At > tenMinutesAgo, cancellationToken);
        var ipTenMinutes = ipText is null ? 0 : await db.Decisions.CountAsync(d => d.Ip == ipText && d.At > tenMinutesAgo, cancellationToken);
        if (ipTenMinutes >= 5)
        {
            Add("ip-velocity", Math.Min(40, 10 * (ipTenMinutes - 4)), $"{ipTenMinutes} sign-ups from {ipText} in 10 minutes");
        }

        if (subnetTenMinutes >= 10)
        {
            Add("subnet-velocity", Math.Min(50, 5 * (subnetTenMinutes - 9)), $"{subnetTenMinutes} sign-ups from {subnet} in 10 minutes");
        }

        var domain = normalized[(normalized.LastIndexOf('@') + 1)..].ToLowerInvariant();
        if (EmbeddedLists.DisposableDomains.Contains(domain))
        {
            Add("disposable-email", 60, $"{domain} is a disposable e-mail domain");
        }

        var agent = http.Request.Headers.UserAgent.ToString();
        if (agent.Length == 0)
        {
            Add("headless-client", 25, "no User-Agent");
        }
        else if (ScriptedAgent().Match(agent) is { Success: true } scripted)
        {
            Add("headless-client", 50, $"User-Agent names {scripted.Value}");
        }

        if (string.IsNullOrEmpty(http.Request.Headers.AcceptLanguage))
        {
            Add("headless-client", 10, "no Accept-Language");
        }

        if (formToken is not { Length: > 0 })
        {
            Add("no-form", 5, "not sent from the sign-up page (no form token)");
        }
        else if (RenderedAt(formToken) is not { } rendered)
        {
            Add("forged-form", 30, "the form token is invalid or expired");
        }
        else if (now - rendered < o.MinimumFormTime)
        {
            Add("fast-form", 40, $"form filled in {(now - rendered).TotalSeconds:0.0} s");
        }

        if (fingerprint is not null)
        {
            var dayAgo = now - TimeSpan.FromDays(1);
            var others = await db.Decisions.Where(d => d.Fingerprint == fingerprint && d.At > dayAgo && d.Email != normalized)
                .Select(d => d.Email).Distinct().CountAsync(cancellationToken);
            if (others > 0)
            {
                Add("reused-device", Math.Min(50, 25 + (10 * (others - 1))), $"the same device signed up {others} other address(es) in 24 hours");
            }
        }

        var outcome = subnetLastMinute >= o.SignUpsPerMinutePerSubnet ? RiskOutcome.Throttled
            : score >= o.BlockThreshold ? RiskOutcome.Blocked
            : score >= o.ChallengeThreshold ? RiskOutcome.Challenged
            : RiskOutcome.Allowed;
        if (outcome == RiskOutcome.Throttled)
        {
            reasons.Insert(0, $"throttled: {subnetLastMinute} sign-ups from {subnet} in the last minute (limit {o.SignUpsPerMinutePerSubnet})");
        }

        var held = outcome == RiskOutcome.Challenged ? now + o.ChallengeDelay : (DateTimeOffset?)null;
        db.Decisions.Add(new RiskDecision
        {
            Id = Guid.CreateVersion7(now),
            At = now,
            Email = normalized.Length > 256 ? normalized[..256] : normalized,
            Ip = ipText,
            Subnet = subnet,
            Fingerprint = fingerprint,
            UserAgent = agent.Length > 300 ? agent[..300] : agent,
            Score = score,
            Outcome = outcome,
            Reasons = Truncate(string.Join("\n", reasons), 2000),
            HeldUntil = held,
        });
        await db.SaveChangesAsync(cancellationToken);
        return new RiskAssessment(outcome, score, reasons, held);
    }

    /// <summary>When a challenged sign-up's code starts to work (null when it is not held).</summary>
    public async Task<DateTimeOffset?> HeldUntilAsync(string email, CancellationToken cancellationToken)
    {
        var normalized = email.Trim().ToUpperInvariant();
        var latest = await db.Decisions.Where(d => d.Email == normalized && d.Outcome != RiskOutcome.Throttled && d.Outcome != RiskOutcome.Blocked)
            .OrderByDescending(d => d.At).Select(d => d.HeldUntil).FirstOrDefaultAsync(cancellationToken);
        return latest is { } until && until > clock.GetUtcNow() ? until : null;
    }

    public async Task<IReadOnlyList<RiskDecision>> RecentAsync(RiskOutcome? outcome, int take, CancellationToken cancellationToken) =>
        await db.Decisions.AsNoTracking().Where(d => outcome == null || d.Outcome == outcome)
            .OrderByDescending(d => d.At).Take(Math.Clamp(take, 1, 1000)).ToListAsync(cancellationToken);

    private DateTimeOffset? RenderedAt(string token)
    {
        try
        {
            return long.TryParse(FormProtector.Unprotect(token), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ticks)
                ? new DateTimeOffset(ticks, TimeSpan.Zero)
                : null;
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    private static string? Fingerprint(HttpContext http)
    {
        var raw = http.Request.Cookies[SignInFlow.DeviceCookie] is { Length: > 0 } cookie ? "cookie:" + cookie
            : http.Request.Headers[DeviceHeader].ToString() is { Length: > 0 } header ? "header:" + header
            : null;
        return raw is null ? null : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(raw)))[..32];
    }

    /// <summary>The /24 of an IPv4 address, the /48 of an IPv6 one.</summary>
    internal static string Subnet(IPAddress ip)
    {
        var bytes = ip.GetAddressBytes();
        var keep = ip.AddressFamily == AddressFamily.InterNetwork ? 3 : 6;
        for (var i = keep; i < bytes.Length; i++)
        {
            bytes[i] = 0;
        }

        return $"{new IPAddress(bytes)}/{keep * 8}";
    }

    private static string Truncate(string s, int max) => s.Length > max ? s[..max] : s;

    [GeneratedRegex(@"HeadlessChrome|PhantomJS|Puppeteer|Playwright|Selenium|curl/|Wget|python-requests|python-urllib|aiohttp|Go-http-client|node-fetch|undici|axios|okhttp|Java/|libwww|Scrapy|HttpClient|bot\b|spider|crawler", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptedAgent();
}
