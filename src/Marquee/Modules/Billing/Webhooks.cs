using System.Text.Json;
using Marquee.Billing.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Billing;

/// <summary>
/// Receives gateway webhooks: the signature and timestamp are checked (HMAC-SHA256 over "t.body", within the tolerance by
/// <see cref="TimeProvider"/>); the event id is stored in the same transaction as the effect, so each event has one effect
/// however often it comes; the effect re-reads the charge from the gateway, so events converge in any order.
/// </summary>
internal sealed partial class WebhookReceiver(BillingDb db, Checkouts checkouts, SandboxSigner signer, IOptions<BillingOptions> options, TimeProvider time, ILogger<WebhookReceiver> logger)
{
    internal sealed record Result(int Status, string Message);

    public async Task<Result> ReceiveAsync(string body, string? signature, CancellationToken cancellationToken)
    {
        var problem = signer.Check(body, signature, time.GetUtcNow(), options.Value.WebhookToleranceSeconds);
        if (problem is not null)
        {
            Log.Refused(logger, problem);
            return new Result(400, problem);
        }

        WebhookEvent? evt;
        try
        {
            evt = JsonSerializer.Deserialize<WebhookEvent>(body);
        }
        catch (JsonException)
        {
            evt = null;
        }

        if (evt is null || string.IsNullOrEmpty(evt.Id) || evt.Id.Length > 100 || string.IsNullOrEmpty(evt.ChargeId) || string.IsNullOrEmpty(evt.Type))
        {
            return new Result(400, "malformed event");
        }

        return await ApplyAsync(evt.Id, evt.Type, evt.ChargeId, cancellationToken);
    }

    /// <summary>
    /// Applies a verified event of any gateway (the sandbox's, Stripe's): once per event id, the receipt committed in the
    /// same transaction as the effect.
    /// </summary>
    public async Task<Result> ApplyAsync(string eventId, string type, string chargeId, CancellationToken cancellationToken)
    {
        var evt = (Id: eventId, Type: type, ChargeId: chargeId);
        if (await db.Webhooks.AnyAsync(w => w.EventId == evt.Id, cancellationToken))
        {
            return new Result(200, "duplicate");
        }

        try
        {
            if (!await checkouts.ConvergeAsync(evt.ChargeId, cancellationToken))
            {
                return new Result(409, "unknown charge; send again later"); // not recorded: the gateway retries
            }
        }
        catch (GatewayUnavailableException)
        {
            return new Result(503, "payment gateway unreachable; send again later"); // not recorded: the gateway retries
        }

        db.Webhooks.Add(new WebhookReceipt { EventId = evt.Id, Type = evt.Type.Length > 60 ? evt.Type[..60] : evt.Type, ReceivedAt = time.GetUtcNow() });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // The same event handled concurrently: its effect is committed once, with its receipt.
            return new Result(200, "duplicate");
        }

        return new Result(200, "processed");
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Billing: webhook refused: {Problem}")]
        public static partial void Refused(ILogger logger, string problem);
    }
}
