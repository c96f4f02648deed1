using System.Security.Cryptography;
using System.Text;
using Marquee.Identity.Contracts;
using Marquee.Identity.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Identity;

/// <summary>
/// E-mailed links for signing in without a password and for resetting a password. Each link carries a random token
/// (256 bits) of which only the SHA-256 is stored; it works once (a conditional update), for at most
/// <see cref="AccountOptions.MagicLinkLifetime"/> (10 minutes by default), and only in the browser that asked for it:
/// the request sets a random cookie whose hash is stored with the link. A request for an unknown e-mail gets the same
/// answer, the same cookie and the same password-hasher work, and sends no mail.
/// </summary>
internal sealed class MagicLinks(
    IdentityDb db,
    UserManager<Account> users,
    SignInFlow flow,
    IMailSender mail,
    IOptions<AccountOptions> options,
    IConfiguration configuration,
    IHttpContextAccessor http,
    DeviceSessions sessions,
    TimeProvider clock)
{
    public const string SignIn = "signin";
    public const string Reset = "reset";

    /// <summary>The random value that binds a link to the browser that asked for it.</summary>
    public const string BrowserCookie = "__Host-marquee-link";

    /// <summary>The one answer to a link request.</summary>
    public const string Accepted = "{\"status\":\"link-sent\",\"detail\":\"If the address has an account, a link is on its way. Open it in this browser within 10 minutes.\"}";

    public const string Refused = "That link is wrong, expired, already used or was asked for in another browser. Ask for a new one.";

    /// <summary>E-mails a link (sign-in or reset) to the account of this e-mail, if there is one.</summary>
    public async Task RequestAsync(string? email, string purpose, CancellationToken cancellationToken)
    {
        // The known path writes a link and a mail, the unknown one nothing: both answer at the same floor (R19).
        var started = TimeProvider.System.GetTimestamp();
        await SendLinkAsync(email, purpose, cancellationToken);
        await flow.AtTheFloorAsync(started);
    }

    private async Task SendLinkAsync(string? email, string purpose, CancellationToken cancellationToken)
    {
        var browser = BrowserValue();
        var user = await users.FindByEmailAsync((email ?? "").Trim());
        // The hasher runs once either way, so that the request costs the same for known and unknown e-mails.
        flow.DecoyCheck(email);
        if (user is null || user.DeleteAfter is not null && purpose == Reset)
        {
            return;
        }

        var token = Base64Url(RandomNumberGenerator.GetBytes(32));
        var now = clock.GetUtcNow();
        var lifetime = options.Value.MagicLinkLifetime;
        db.MagicLinks.Add(new MagicLink
        {
            Id = Guid.CreateVersion7(now),
            AccountId = user.Id,
            TokenHash = Hash(token),
            BrowserHash = Hash(browser),
            Purpose = purpose,
            CreatedAt = now,
            ExpiresAt = now + lifetime,
        });
        await db.MagicLinks.Where(m => m.ExpiresAt < now - TimeSpan.FromDays(1)).ExecuteDeleteAsync(cancellationToken);
        await db.SaveChangesAsync(cancellationToken);

        var minutes = (int)Math.Ceiling(lifetime.TotalMinutes);
        var (path, subject, text) = purpose == Reset
            ? ("/signin/reset", "Reset your Marquee password", $"Someone (we hope you) asked to reset the password of your Marquee account. Open this link in the same browser within {minutes} minutes to choose a new password; it works once:")
            : ("/signin/link", "Your Marquee sign-in link", $"Open this link in the same browser within {minutes} minutes to sign in to Marquee; it works once:");
        await mail.SendAsync(user.Email!, subject, $"{text}\n\n{PublicBase()}{path}?token={token}\n\nIf you did not ask for it, ignore this e-mail.\n", cancellationToken);
    }

    /// <summary>Uses a link: its account when the token is known, unused, not expired, of this purpose and asked for by this browser.</summary>
    public async Task<Account?> RedeemAsync(string? token, string purpose, CancellationToken cancellationToken)
    {
        var browser = http.HttpContext?.Request.Cookies[BrowserCookie];
        if (string.IsNullOrEmpty(token) || token.Length > 100 || string.IsNullOrEmpty(browser))
        {
            return null;
        }

        var tokenHash = Hash(token);
        var browserHash = Hash(browser);
        var now = clock.GetUtcNow();
        var link = await db.MagicLinks.AsNoTracking().FirstOrDefaultAsync(m => m.TokenHash == tokenHash, cancellationToken);
        if (link is null || link.Purpose != purpose || link.AccountId is null
            || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(link.BrowserHash), Encoding.ASCII.GetBytes(browserHash)))
        {
            return null;
        }

        // A conditional update: of two requests with the same link, one wins.
        var used = await db.MagicLinks
            .Where(m => m.Id == link.Id && m.UsedAt == null && m.ExpiresAt > now)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.UsedAt, now), cancellationToken);
        return used == 1 ? await users.FindByIdAsync(link.AccountId.Value.ToString()) : null;
    }

    /// <summary>Signs in with a sign-in link (no second factor: the mailbox is the factor, as for a password reset).</summary>
    public async Task<bool> SignInAsync(string? token, CancellationToken cancellationToken)
    {
        if (await RedeemAsync(token, SignIn, cancellationToken) is not { } user || await users.IsLockedOutAsync(user))
        {
            return false;
        }

        await flow.CompleteSignInAsync(user, "link");
        await flow.PublishAsync(user, SecurityEventKind.MagicLinkSignIn, null);
        return true;
    }

    /// <summary>Sets a new password with a reset link; the problem in words when the password is not acceptable, else null.</summary>
    public async Task<(bool Done, string? Problem)> ResetPasswordAsync(string? token, string? password, CancellationToken cancellationToken)
    {
        var user = await RedeemAsync(token, Reset, cancellationToken);
        if (user is null)
        {
            flow.DecoyCheck(password);
            return (false, Refused);
        }

        var resetToken = await users.GeneratePasswordResetTokenAsync(user);
        var result = await users.ResetPasswordAsync(user, resetToken, password ?? "");
        if (!result.Succeeded)
        {
            // The link is spent only by a successful reset: give it back.
            await db.MagicLinks.Where(m => m.TokenHash == Hash(token!)).ExecuteUpdateAsync(s => s.SetProperty(m => m.UsedAt, (DateTimeOffset?)null), cancellationToken);
            return (false, Accounts.Describe(result));
        }

        await users.SetLockoutEndDateAsync(user, null);
        await users.ResetAccessFailedCountAsync(user);
        await sessions.RevokeAllAsync(user.Id, keep: null, cancellationToken);
        await flow.PublishAsync(user, SecurityEventKind.PasswordReset, null);
        return (true, null);
    }

    /// <summary>The browser's binding value: the cookie it has, or a new one set on the response.</summary>
    private string BrowserValue()
    {
        var context = http.HttpContext ?? throw new InvalidOperationException("A link is asked for in a request.");
        if (context.Request.Cookies[BrowserCookie] is { Length: >= 32 and <= 100 } existing)
        {
            return existing;
        }

        var value = Base64Url(RandomNumberGenerator.GetBytes(32));
        context.Response.Cookies.Append(BrowserCookie, value, new CookieOptions
        {
            HttpOnly = true,
            Secure = true,
            SameSite = SameSiteMode.Lax,
            Path = "/",
            MaxAge = TimeSpan.FromDays(1),
            IsEssential = true,
        });
        return value;
    }

    /// <summary><c>Marquee:PublicBaseUrl</c> when set (never the request's Host header, which a client chooses), else the request's own origin.</summary>
    private string PublicBase()
    {
        if (configuration["Marquee:PublicBaseUrl"] is { Length: > 0 } configured)
        {
            return configured.TrimEnd('/');
        }

        var request = http.HttpContext!.Request;
        return $"{request.Scheme}://{request.Host}";
    }

    internal static string Hash(string value) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
