using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Marquee.Billing.Data;
using Marquee.Platform;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Billing;

internal enum ChargeState
{
    RequiresAction,
    Succeeded,
    Failed,
    Refunded,

    /// <summary>A refund is under way (Stripe's refund <c>pending</c>): no money has gone back yet; a webhook or a re-fetch tells the outcome.</summary>
    RefundPending,
}

/// <summary>A charge as the gateway reports it. <see cref="ActionUrl"/> is where the payer confirms (3-D Secure).</summary>
internal sealed record GatewayCharge(string Id, ChargeState State, long Amount, long Fee, string Currency, string? Failure, string? ActionUrl);

/// <summary>
/// A payment gateway. Every charge and refund carries an idempotency key: the same key gives the same charge, never a
/// second one. <see cref="GetChargeAsync"/> is the truth webhooks converge to.
/// </summary>
internal interface IPaymentGateway
{
    /// <summary>A reusable token for a card (null when the gateway refuses the card outright).</summary>
    Task<string?> TokenizeAsync(string card, CancellationToken cancellationToken);

    /// <summary>
    /// As <see cref="TokenizeAsync(string, CancellationToken)"/>, keyed: a gateway that creates something for the token
    /// (a Stripe Customer) creates it once for the same key, so a request retried after a lost answer makes no second one.
    /// </summary>
    Task<string?> TokenizeAsync(string card, string idempotencyKey, CancellationToken cancellationToken) => TokenizeAsync(card, cancellationToken);

    /// <param name="onSession">True when the payer is present (3-D Secure may be asked); false for renewals.</param>
    Task<GatewayCharge> ChargeAsync(string idempotencyKey, long amount, string currency, string method, bool onSession, CancellationToken cancellationToken);

    Task<GatewayCharge?> GetChargeAsync(string chargeId, CancellationToken cancellationToken);

    Task<GatewayCharge> RefundAsync(string chargeId, CancellationToken cancellationToken);

    /// <summary>
    /// An on-session charge on which the payer must pass the gateway's challenge (3-D Secure) whatever the card: the fraud
    /// check's <c>challenge</c>. A gateway without one charges as usual.
    /// </summary>
    Task<GatewayCharge> ChargeChallengedAsync(string idempotencyKey, long amount, string currency, string method, CancellationToken cancellationToken) =>
        ChargeAsync(idempotencyKey, amount, currency, method, onSession: true, cancellationToken);

    /// <summary>What the gateway says about a tokenized card (a fingerprint that is the same for the same card, its issuing country), or null.</summary>
    Task<CardFacts?> CardAsync(string method, CancellationToken cancellationToken) => Task.FromResult<CardFacts?>(null);
}

/// <summary>
/// The gateway could not be reached or did not answer in time (refused, reset, timed out, circuit open): whether it acted
/// is unknown. Money-moving requests answer 503 "Payment pending" and store nothing; the same request sent again with
/// the same idempotency key learns the outcome from the gateway, which never acts twice for one key.
/// </summary>
internal sealed class GatewayUnavailableException(string message, Exception inner) : Exception(message, inner);

/// <summary>A card as a gateway describes it: <see cref="Fingerprint"/> is the same for the same card number.</summary>
internal sealed record CardFacts(string Fingerprint, string? Country);

/// <summary>
/// The built-in sandbox gateway, for development, demos and tests. It keeps its own records (in its own transactions, as
/// an outside gateway would) and signs webhooks like a real one, delivering some twice and out of order.
/// Test cards: <see cref="Success"/>, <see cref="Declined"/>, <see cref="InsufficientFunds"/>, <see cref="ThreeDSecure"/>;
/// cards issued in a country (<see cref="CountryCards"/>, which succeed); and any other Luhn-valid 16-digit number
/// starting 424242, which succeeds like <see cref="Success"/> but is a different card (for card-testing scenarios).
/// </summary>
internal sealed class SandboxGateway(IServiceScopeFactory scopes, IOptions<BillingOptions> options, TimeProvider time) : IPaymentGateway
{
    public const string Success = "4242424242424242";
    public const string Declined = "4000000000000002";
    public const string InsufficientFunds = "4000000000009995";
    public const string ThreeDSecure = "4000000000003220";

    public static readonly IReadOnlyList<string> TestCards = [Success, Declined, InsufficientFunds, ThreeDSecure];

    /// <summary>Test cards that succeed and carry the country that issued them (in the manner of Stripe's country test cards).</summary>
    public static readonly IReadOnlyDictionary<string, string> CountryCards = new Dictionary<string, string>
    {
        ["4000000760000002"] = "BR",
        ["4000001240000000"] = "CA",
        ["4000002500000003"] = "FR",
        ["4000002760000016"] = "DE",
        ["4000003920000003"] = "JP",
        ["4000008260000000"] = "GB",
        ["4000008400000000"] = "US",
    };

    /// <summary>A card the sandbox knows: a test card, a country card, or a Luhn-valid 16-digit 424242... number.</summary>
    public static bool Known(string digits) => TestCards.Contains(digits) || CountryCards.ContainsKey(digits) || IsGenericSuccess(digits);

    private static bool Succeeds(string? card) => card is not null && (card == Success || CountryCards.ContainsKey(card) || IsGenericSuccess(card));

    private static bool IsGenericSuccess(string digits) => digits.Length == 16 && digits.StartsWith("424242", StringComparison.Ordinal) && Luhn(digits);

    internal static bool Luhn(string digits)
    {
        var sum = 0;
        for (var i = 0; i < digits.Length; i++)
        {
            var d = digits[digits.Length - 1 - i] - '0';
            if (i % 2 == 1)
            {
                d *= 2;
                if (d > 9)
                {
                    d -= 9;
                }
            }

            sum += d;
        }

        return sum % 10 == 0;
    }

    public async Task<CardFacts?> CardAsync(string method, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var card = (await scope.ServiceProvider.GetRequiredService<BillingDb>().SandboxMethods.AsNoTracking().FirstOrDefaultAsync(m => m.Token == method, cancellationToken))?.Card;
        return card is null ? null : new CardFacts(Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes("sandbox-card:" + card)))[..32], CountryCards.GetValueOrDefault(card));
    }

    public Task<GatewayCharge> ChargeChallengedAsync(string idempotencyKey, long amount, string currency, string method, CancellationToken cancellationToken) =>
        ChargeAsync(idempotencyKey, amount, currency, method, onSession: true, challenge: true, cancellationToken);

    public Task<GatewayCharge> ChargeAsync(string idempotencyKey, long amount, string currency, string method, bool onSession, CancellationToken cancellationToken) =>
        ChargeAsync(idempotencyKey, amount, currency, method, onSession, challenge: false, cancellationToken);

    public async Task<string?> TokenizeAsync(string card, CancellationToken cancellationToken)
    {
        var digits = new string([.. (card ?? "").Where(char.IsAsciiDigit)]);
        if (!Known(digits))
        {
            return null;
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BillingDb>();
        var token = "pm_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        db.SandboxMethods.Add(new SandboxMethod { Token = token, Card = digits, CreatedAt = time.GetUtcNow() });
        await db.SaveChangesAsync(cancellationToken);
        return token;
    }

    private async Task<GatewayCharge> ChargeAsync(string idempotencyKey, long amount, string currency, string method, bool onSession, bool challenge, CancellationToken cancellationToken)
    {
        if (options.Value.UnsafeSkipIdempotency)
        {
            idempotencyKey = $"{idempotencyKey}:{Guid.NewGuid():N}"; // the broken variant: as if the caller sent no key
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BillingDb>();
        if (await db.SandboxCharges.AsNoTracking().FirstOrDefaultAsync(c => c.IdempotencyKey == idempotencyKey, cancellationToken) is { } existing)
        {
            return View(existing);
        }

        var card = (await db.SandboxMethods.AsNoTracking().FirstOrDefaultAsync(m => m.Token == method, cancellationToken))?.Card;
        var (status, failure) = card switch
        {
            _ when challenge && (Succeeds(card) || card == ThreeDSecure) => (SandboxChargeStatus.RequiresAction, (string?)null),
            _ when Succeeds(card) => (SandboxChargeStatus.Succeeded, null),
            ThreeDSecure when onSession => (SandboxChargeStatus.RequiresAction, null),
            ThreeDSecure => (SandboxChargeStatus.Succeeded, null), // authenticated at checkout: renewals go through
            Declined => (SandboxChargeStatus.Failed, "card_declined"),
            InsufficientFunds => (SandboxChargeStatus.Failed, "insufficient_funds"),
            _ => (SandboxChargeStatus.Failed, "unknown_payment_method"),
        };
        var charge = new SandboxCharge
        {
            Id = "ch_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)),
            IdempotencyKey = idempotencyKey,
            Amount = amount,
            Fee = status == SandboxChargeStatus.Succeeded ? FeeOf(amount) : 0,
            Currency = currency,
            Method = method,
            Status = status,
            Failure = failure,
            CreatedAt = time.GetUtcNow(),
        };
        db.SandboxCharges.Add(charge);
        Queue(db, charge);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // The same key charged concurrently: that one charge is the answer.
            await using var again = scopes.CreateAsyncScope();
            var other = await again.ServiceProvider.GetRequiredService<BillingDb>().SandboxCharges.AsNoTracking()
                .FirstAsync(c => c.IdempotencyKey == idempotencyKey, cancellationToken);
            return View(other);
        }

        return View(charge);
    }

    public async Task<GatewayCharge?> GetChargeAsync(string chargeId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var charge = await scope.ServiceProvider.GetRequiredService<BillingDb>().SandboxCharges.AsNoTracking().FirstOrDefaultAsync(c => c.Id == chargeId, cancellationToken);
        return charge is null ? null : View(charge);
    }

    public async Task<GatewayCharge> RefundAsync(string chargeId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BillingDb>();
        var charge = await db.SandboxCharges.FirstAsync(c => c.Id == chargeId, cancellationToken);
        if (charge.Status == SandboxChargeStatus.Succeeded)
        {
            charge.Status = SandboxChargeStatus.Refunded;
            charge.RefundedAt = time.GetUtcNow();
            Queue(db, charge);
            await db.SaveChangesAsync(cancellationToken);
        }

        return View(charge);
    }

    /// <summary>The payer's answer on the sandbox's 3-D Secure page.</summary>
    public async Task<GatewayCharge?> CompleteChallengeAsync(string chargeId, bool confirmed, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BillingDb>();
        var charge = await db.SandboxCharges.FirstOrDefaultAsync(c => c.Id == chargeId, cancellationToken);
        if (charge is null)
        {
            return null;
        }

        if (charge.Status == SandboxChargeStatus.RequiresAction)
        {
            charge.Status = confirmed ? SandboxChargeStatus.Succeeded : SandboxChargeStatus.Failed;
            charge.Fee = confirmed ? FeeOf(charge.Amount) : 0;
            charge.Failure = confirmed ? null : "authentication_failed";
            Queue(db, charge);
            await db.SaveChangesAsync(cancellationToken);
        }

        return View(charge);
    }

    /// <summary>
    /// The sandbox's settlement report for [from, to), as a real gateway's: a line per charge that succeeded (refunded
    /// since or not) created in the period, and a line per refund made in it.
    /// </summary>
    public async Task<IReadOnlyList<SettlementLine>> SettlementAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var charges = await scope.ServiceProvider.GetRequiredService<BillingDb>().SandboxCharges.AsNoTracking()
            .Where(c => c.Status == SandboxChargeStatus.Succeeded || c.Status == SandboxChargeStatus.Refunded).ToListAsync(cancellationToken);
        var lines = new List<SettlementLine>();
        foreach (var c in charges)
        {
            if (c.CreatedAt >= from && c.CreatedAt < to)
            {
                lines.Add(new SettlementLine(0, "charge", c.Id, c.Amount, c.Fee, c.Amount - c.Fee, c.Currency, c.CreatedAt));
            }

            if (c.RefundedAt is { } r && r >= from && r < to)
            {
                lines.Add(new SettlementLine(0, "refund", c.Id, -c.Amount, 0, -c.Amount, c.Currency, r));
            }
        }

        return [.. lines.OrderBy(l => l.CreatedUtc).ThenBy(l => l.ChargeId, StringComparer.Ordinal)];
    }

    public long FeeOf(long amount) =>
        options.Value.Sandbox.FeeFixed + (long)Math.Round(amount * options.Value.Sandbox.FeePerMille / 1000m, MidpointRounding.AwayFromZero);

    private void Queue(BillingDb db, SandboxCharge charge)
    {
        var type = charge.Status switch
        {
            SandboxChargeStatus.Succeeded => "charge.succeeded",
            SandboxChargeStatus.Failed => "charge.failed",
            SandboxChargeStatus.Refunded => "charge.refunded",
            _ => "charge.requires_action",
        };
        var body = JsonSerializer.Serialize(new WebhookEvent("evt_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)), type, time.GetUtcNow().ToUnixTimeSeconds(), charge.Id));
        db.SandboxWebhooks.Add(new SandboxWebhook { Id = Guid.NewGuid(), Body = body, CreatedAt = time.GetUtcNow() });
    }

    private static GatewayCharge View(SandboxCharge c) => new(c.Id, c.Status switch
    {
        SandboxChargeStatus.RequiresAction => ChargeState.RequiresAction,
        SandboxChargeStatus.Succeeded => ChargeState.Succeeded,
        SandboxChargeStatus.Refunded => ChargeState.Refunded,
        _ => ChargeState.Failed,
    }, c.Amount, c.Fee, c.Currency, c.Failure, c.Status == SandboxChargeStatus.RequiresAction ? $"/billing/sandbox/3ds/{c.Id}" : null);
}

/// <summary>A webhook body: <c>{"id":"evt_...","type":"charge.succeeded","created":1700000000,"chargeId":"ch_..."}</c>.</summary>
internal sealed record WebhookEvent(
    [property: System.Text.Json.Serialization.JsonPropertyName("id")] string Id,
    [property: System.Text.Json.Serialization.JsonPropertyName("type")] string Type,
    [property: System.Text.Json.Serialization.JsonPropertyName("created")] long Created,
    [property: System.Text.Json.Serialization.JsonPropertyName("chargeId")] string ChargeId);

/// <summary>
/// Signs and checks sandbox webhooks: header <c>Marquee-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of "t.body"&gt;</c>,
/// as Stripe does. The secret is configured, or made once and kept in the data folder.
/// </summary>
internal sealed class SandboxSigner(IOptions<BillingOptions> options, IOptions<MarqueeOptions> marquee)
{
    public const string Header = "Marquee-Signature";

    private readonly Lazy<byte[]> secret = new(() => Load(options.Value, marquee.Value));

    public string Sign(string body, DateTimeOffset at)
    {
        var t = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return $"t={t},v1={Mac(t, body)}";
    }

    /// <summary>Null when valid; otherwise why not.</summary>
    public string? Check(string body, string? header, DateTimeOffset now, int toleranceSeconds)
    {
        if (string.IsNullOrEmpty(header))
        {
            return "no signature";
        }

        string? t = null;
        var signatures = new List<string>();
        foreach (var part in header.Split(',', StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            var (k, v) = (part[..eq], part[(eq + 1)..]);
            if (k == "t")
            {
                t = v;
            }
            else if (k == "v1")
            {
                signatures.Add(v);
            }
        }

        if (t is null || !long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || signatures.Count == 0)
        {
            return "malformed signature";
        }

        var expected = Encoding.ASCII.GetBytes(Mac(t, body));
        if (!signatures.Any(s => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(s), expected)))
        {
            return "bad signature";
        }

        return Math.Abs(now.ToUnixTimeSeconds() - seconds) > toleranceSeconds ? "timestamp outside the tolerance" : null;
    }

    private string Mac(string t, string body) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(secret.Value, Encoding.UTF8.GetBytes($"{t}.{body}")));

    private static byte[] Load(BillingOptions options, MarqueeOptions marquee)
    {
        if (!string.IsNullOrEmpty(options.Sandbox.WebhookSecret))
        {
            return Encoding.UTF8.GetBytes(options.Sandbox.WebhookSecret);
        }

        var file = Path.Combine(marquee.FullDataDir, "billing", "sandbox-webhook.key");
        if (File.Exists(file))
        {
            return Convert.FromHexString(File.ReadAllText(file).Trim());
        }

        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        var key = RandomNumberGenerator.GetBytes(32);
        try
        {
            using var stream = new FileStream(file, FileMode.CreateNew, FileAccess.Write);
            stream.Write(Encoding.ASCII.GetBytes(Convert.ToHexStringLower(key)));
        }
        catch (IOException) when (File.Exists(file))
        {
            return Convert.FromHexString(File.ReadAllText(file).Trim()); // another process made it first
        }

        return key;
    }
}
