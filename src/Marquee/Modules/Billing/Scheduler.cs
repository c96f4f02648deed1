using Marquee.Billing.Data;
using Marquee.Platform.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Billing;

/// <summary>
/// Runs due billing jobs: renewals (one per subscription and period: the job's key is unique, and marking it done is
/// committed with its effect, so a job never runs twice), dunning retries, revenue recognition; and delivers the
/// sandbox gateway's webhooks. Time comes from <see cref="TimeProvider"/>.
/// </summary>
internal sealed partial class BillingScheduler(IServiceScopeFactory scopes, IOptions<BillingOptions> options, TimeProvider time, ILogger<BillingScheduler> logger)
{
    /// <summary>Runs every job and recognition due now (catching up period after period when the clock jumped); returns the jobs run.</summary>
    public async Task<int> RunDueAsync(CancellationToken cancellationToken)
    {
        var ran = 0;
        for (var guard = 0; guard < 10_000; guard++)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<BillingDb>();
            var now = time.GetUtcNow();
            var job = await db.Jobs.Where(j => j.DoneAt == null && j.DueAt <= now).OrderBy(j => j.DueAt).ThenBy(j => j.Key).FirstOrDefaultAsync(cancellationToken);
            if (job is null)
            {
                break;
            }

            try
            {
                job.Outcome = await RunAsync(scope.ServiceProvider, db, job, cancellationToken);
                job.DoneAt = now;
                await db.SaveChangesAsync(cancellationToken);
                ran++;
            }
            catch (DbUpdateConcurrencyException)
            {
                // Another worker ran it (its DoneAt was committed first): nothing of ours was saved.
            }
        }

        await RecogniseDueAsync(cancellationToken);
        return ran;
    }

    private async Task<string> RunAsync(IServiceProvider sp, BillingDb db, BillingJob job, CancellationToken cancellationToken)
    {
        var checkouts = sp.GetRequiredService<Checkouts>();
        var books = sp.GetRequiredService<Books>();
        var gateway = sp.GetRequiredService<IPaymentGateway>();
        var sub = await db.Subscriptions.FirstOrDefaultAsync(s => s.Id == job.SubscriptionId, cancellationToken);
        if (sub is null || !sub.Open)
        {
            return "subscription ended";
        }

        var plan = await db.Plans.Include(p => p.Prices).FirstAsync(p => p.Id == sub.PlanId, cancellationToken);
        if (job.Kind == JobKind.Renew)
        {
            if (sub.CurrentPeriodEnd != job.PeriodStart || sub.Status is not (SubscriptionStatus.Active or SubscriptionStatus.Trialing))
            {
                return "stale";
            }

            if (sub.CancelAtPeriodEnd)
            {
                checkouts.End(sub);
                await checkouts.ChangedAsync(sub, plan, cancellationToken);
                return "cancelled at period end";
            }

            if (sub.NextPlanId is { } next)
            {
                plan = await db.Plans.Include(p => p.Prices).FirstAsync(p => p.Id == next, cancellationToken);
                sub.PlanId = plan.Id;
                sub.NextPlanId = null;
            }

            var index = sub.PeriodIndex + 1;
            var start = Checkouts.PeriodStart(sub, plan, index);
            var end = Checkouts.PeriodStart(sub, plan, index + 1);
            sub.PeriodIndex = index;
            var price = plan.Prices.First(p => p.Currency == sub.Currency).Amount;
            if (price == 0)
            {
                // Free with ads: the next period starts without an invoice or a charge.
                sub.CurrentPeriodStart = start;
                sub.CurrentPeriodEnd = end;
                sub.Version++;
                await checkouts.ScheduleAsync(JobKind.Renew, sub, end, end, 0, cancellationToken);
                await checkouts.ChangedAsync(sub, plan, cancellationToken);
                return "free period, nothing charged";
            }

            var customer = await db.Customers.FirstAsync(c => c.AccountId == sub.AccountId, cancellationToken);
            var (discount, described) = (0L, (string?)null);
            if (sub.CouponId is { } couponId && sub.CouponPeriodsLeft is null or > 0
                && await db.Coupons.AsNoTracking().Include(c => c.AmountsOff).FirstOrDefaultAsync(c => c.Id == couponId, cancellationToken) is { } coupon
                && Coupons.PlansOf(coupon) is var plans && (plans.Count == 0 || plans.Contains(plan.Code)))
            {
                (discount, described) = (Coupons.DiscountOf(coupon, price, sub.Currency), Coupons.Describe(coupon));
                sub.CouponPeriodsLeft--; // a repeating coupon discounts its N periods, then renewals are charged in full
            }

            var invoice = await books.IssueAsync(sub.AccountId, customer.Country, sub.Currency, "subscription",
                $"{plan.Name} ({plan.Period.ToString().ToLowerInvariant()}), {start.UtcDateTime:yyyy-MM-dd} to {end.UtcDateTime:yyyy-MM-dd}",
                price, sub.Id, plan.Id, null, start, end, cancellationToken, discount, described);
            return await ChargeAsync(db, checkouts, gateway, sub, plan, invoice, job, cancellationToken);
        }

        // A dunning retry of the renewal's open invoice.
        var open = await db.Invoices.FirstOrDefaultAsync(i => i.SubscriptionId == sub.Id && i.Purpose == "subscription" && i.Status == InvoiceStatus.Open && i.PeriodStart == job.PeriodStart, cancellationToken);
        if (open is null || sub.Status != SubscriptionStatus.PastDue)
        {
            return "nothing due";
        }

        return await ChargeAsync(db, checkouts, gateway, sub, plan, open, job, cancellationToken);
    }

    private async Task<string> ChargeAsync(BillingDb db, Checkouts checkouts, IPaymentGateway gateway, Subscription sub, Plan plan, Invoice invoice, BillingJob job, CancellationToken cancellationToken)
    {
        var charge = await gateway.ChargeAsync(job.Key, invoice.Total, invoice.Currency, sub.PaymentMethod, onSession: false, cancellationToken);
        var payment = checkouts.Record(sub.AccountId, invoice, charge);
        if (charge.State == ChargeState.Succeeded)
        {
            await checkouts.FulfilAsync(payment, invoice, sub, cancellationToken);
            return $"paid {invoice.Number}";
        }

        payment.Status = PaymentStatus.Failed;
        var now = time.GetUtcNow();
        sub.FailedAttempts++;
        sub.Version++;
        var retries = options.Value.RetryDays;
        if (sub.Status != SubscriptionStatus.PastDue)
        {
            sub.Status = SubscriptionStatus.PastDue;
            sub.PastDueSince = now;
        }

        if (sub.FailedAttempts <= retries.Count)
        {
            await checkouts.ScheduleAsync(JobKind.Retry, sub, invoice.PeriodStart!.Value, sub.PastDueSince!.Value.AddDays(retries[sub.FailedAttempts - 1]), sub.FailedAttempts, cancellationToken);
            await checkouts.ChangedAsync(sub, plan, cancellationToken);
            return $"failed ({charge.Failure}), retry {sub.FailedAttempts} scheduled";
        }

        sub.Status = SubscriptionStatus.Suspended;
        await checkouts.ChangedAsync(sub, plan, cancellationToken);
        _ = db;
        return $"failed ({charge.Failure}), suspended";
    }

    private async Task RecogniseDueAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<BillingDb>();
            var books = scope.ServiceProvider.GetRequiredService<Books>();
            var now = time.GetUtcNow();
            var due = await db.Recognitions.Where(r => r.RecognisedAt == null && !r.Cancelled && r.DueAt <= now).OrderBy(r => r.DueAt).Take(200).ToListAsync(cancellationToken);
            if (due.Count == 0)
            {
                return;
            }

            var ids = due.Select(d => d.InvoiceId).Distinct().ToList();
            var purposes = await db.Invoices.Where(i => ids.Contains(i.Id)).ToDictionaryAsync(i => i.Id, i => i.Purpose, cancellationToken);
            foreach (var slice in due)
            {
                books.Recognise(slice, purposes[slice.InvoiceId]);
            }

            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateConcurrencyException)
            {
                // recognised by another worker
            }
        }
    }

    /// <summary>Delivers the sandbox gateway's pending webhooks through the receiver, newest first and each twice (as gateways do).</summary>
    public async Task<int> DeliverSandboxWebhooksAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BillingDb>();
        var signer = scope.ServiceProvider.GetRequiredService<SandboxSigner>();
        var pending = await db.SandboxWebhooks.Where(w => w.DeliveredAt == null).OrderByDescending(w => w.CreatedAt).Take(50).ToListAsync(cancellationToken);
        var delivered = 0;
        foreach (var hook in pending)
        {
            var answers = new List<int>();
            for (var copy = 0; copy < 2; copy++)
            {
                await using var inner = scopes.CreateAsyncScope();
                var receiver = inner.ServiceProvider.GetRequiredService<WebhookReceiver>();
                answers.Add((await receiver.ReceiveAsync(hook.Body, signer.Sign(hook.Body, time.GetUtcNow()), cancellationToken)).Status);
            }

            if (answers.Any(a => a is >= 200 and < 300))
            {
                hook.DeliveredAt = time.GetUtcNow();
                delivered++;
            }
        }

        await db.SaveChangesAsync(cancellationToken);
        return delivered;
    }

    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        var ran = await RunDueAsync(cancellationToken);
        var delivered = await DeliverSandboxWebhooksAsync(cancellationToken);
        if (ran + delivered > 0)
        {
            Log.Ran(logger, ran, delivered);
        }

        await TrainFraudModelAsync(cancellationToken);
    }

    /// <summary>Trains a new fraud model when enough labels exist and one is newer than the newest model.</summary>
    public async Task<FraudModel?> TrainFraudModelAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var model = await scope.ServiceProvider.GetRequiredService<FraudReview>().TrainAsync(cancellationToken);
        if (model is not null)
        {
            Log.Trained(logger, model.Labels, model.Frauds);
        }

        return model;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Billing: ran {Jobs} job(s), delivered {Webhooks} sandbox webhook(s)")]
        public static partial void Ran(ILogger logger, int jobs, int webhooks);

        [LoggerMessage(Level = LogLevel.Information, Message = "Billing: trained a fraud model on {Labels} label(s), {Frauds} of them fraud")]
        public static partial void Trained(ILogger logger, int labels, int frauds);
    }
}

/// <summary>The worker's billing loop.</summary>
internal sealed partial class BillingWorker(BillingScheduler scheduler, IOptions<BillingOptions> options, TimeProvider time, ILogger<BillingWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await scheduler.RunOnceAsync(stoppingToken);
                await Task.Delay(options.Value.SchedulerInterval, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A failed run (database briefly unavailable) is retried.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.Failed(logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(30), time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Billing jobs failed; retrying")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
