using System.Security.Claims;
using Marquee.Billing.Contracts;
using Marquee.Billing.Data;
using Marquee.Delivery.Contracts;
using Marquee.Platform;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Hosting;
using Marquee.Platform.Privacy;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Billing;

/// <summary>
/// Billing: plans (SVOD tiers), rentals and purchases (TVOD), free titles; checkout through a payment gateway (the
/// built-in sandbox) with idempotency keys and signed webhooks; invoices with tax, a double-entry ledger with deferred
/// revenue; renewals, cancellation, plan changes with proration and dunning as durable jobs; entitlements at playback.
/// </summary>
public static class BillingModule
{
    public static IServiceCollection AddBilling(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<BillingOptions>().Bind(configuration.GetSection(BillingOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddModuleDb<BillingDb, SqliteBillingDb, PostgresBillingDb>(configuration);
        services.AddScoped<Offers>();
        services.AddScoped<Books>();
        services.AddScoped<Checkouts>();
        services.AddScoped<TvodLicensing>();
        services.AddScoped<WebhookReceiver>();
        services.AddScoped<LedgerVerifier>();
        services.AddScoped<BillingQueries>();
        services.AddScoped<Reconciler>();
        services.AddScoped<RevenueKpis>();
        services.AddScoped<BillingLists>();
        services.AddScoped<IDemoContent, BillingDemo>();
        services.AddScoped<IFraudSignalSource, FraudSignalSource>();
        services.AddScoped<FraudCheck>();
        services.AddScoped<FraudReview>();
        services.AddSingleton<FraudModels>();
        services.AddScoped<Coupons>();
        services.AddHttpContextAccessor();
        services.AddScoped<IPlanLimits, PlanLimitsReader>();
        services.AddScoped<IPlaybackPolicy, Entitlements>();
        services.AddSingleton<SandboxSigner>();
        services.AddSingleton<SandboxGateway>();
        services.AddPaymentGateway(configuration); // Marquee:Billing:Gateway: sandbox (default) or stripe
        services.AddSingleton<BillingScheduler>();
        services.AddEventHandler<PaymentSucceeded, Receipts>();
        services.AddPersonalData<BillingPrivacy>();
        services.AddEventHandler<Marquee.Identity.Contracts.AccountDeleted, BillingPrivacy>();
        services.AddConsoleLink("Billing", "Plans and ledger", "/console/billing");
        services.AddConsoleLink("Billing", "Fraud review", "/console/billing/fraud");
        services.AddConsoleLink("Billing", "Coupons", "/console/billing/coupons");
        var marquee = configuration.GetSection(MarqueeOptions.Section).Get<MarqueeOptions>() ?? new MarqueeOptions();
        if (marquee.HasRole("worker"))
        {
            services.AddHostedService<BillingWorker>();
        }

        return services;
    }

    public static RouteGroupBuilder MapBilling(this IEndpointRouteBuilder endpoints)
    {
        var root = endpoints.MapGroup("").WithTags("Billing");

        root.MapGet("/plans", async (Offers offers, CancellationToken ct) => TypedResults.Ok(await offers.PlansAsync(activeOnly: true, ct)))
            .AllowAnonymous()
            .WithName("ListPlans")
            .WithSummary("Plans on sale, with prices per currency in minor units (net of tax), trial days, maximum height and streams.");

        root.MapGet("/titles/{id:guid}/offer", async Task<Results<Ok<TitleOfferView>, ProblemHttpResult>> (Guid id, Offers offers, CancellationToken ct) =>
                await offers.OfferAsync(id, ct) is { } o ? TypedResults.Ok(o) : TypedResults.Problem(title: "No offer for this title", statusCode: 404))
            .AllowAnonymous()
            .WithName("GetTitleOffer")
            .WithSummary("How a title is offered: free, for rent, for purchase (prices in minor units, net of tax).");

        root.MapPost("/webhooks/sandbox", async (HttpContext http, WebhookReceiver receiver, CancellationToken ct) =>
            {
                using var reader = new StreamReader(http.Request.Body);
                var body = await reader.ReadToEndAsync(ct);
                var result = await receiver.ReceiveAsync(body, http.Request.Headers[SandboxSigner.Header].ToString(), ct);
                return result.Status == 200
                    ? Results.Ok(new { result = result.Message })
                    : Results.Problem(title: "Webhook not accepted", detail: result.Message, statusCode: result.Status);
            })
            .AllowAnonymous() // authenticated by its HMAC signature
            .WithName("SandboxWebhook")
            .WithSummary("The sandbox gateway's webhooks: Marquee-Signature t=...,v1=HMAC-SHA256(t.body); 400 for a bad signature or a stale timestamp (300 s); one effect per event id.");

        StripeWebhooks.Map(root);

        var viewer = root.MapGroup("").RequireAuthorization();

        viewer.MapPost("/checkout", (HttpContext http, CancellationToken _) => Idempotent.RunAsync<CheckoutInput>(http, Scope(http), (sp, input, key, ct) =>
                sp.GetRequiredService<Checkouts>().CheckoutAsync(AccountOf(http), EmailOf(http), input, key, ct)))
            .Accepts<CheckoutInput>("application/json")
            .WithName("Checkout")
            .WithSummary("Subscribes the signed-in account to a plan with a card (Idempotency-Key required): 201 active (or trialing), 202 with a redirect for 3-D Secure, 402 declined, 409 already subscribed, 422 key reused with another body.")
            .ProducesProblem(402).ProducesProblem(409).ProducesProblem(422);

        viewer.MapGet("/subscription", async Task<Results<Ok<SubscriptionView>, ProblemHttpResult>> (HttpContext http, BillingQueries q, CancellationToken ct) =>
                await q.SubscriptionAsync(AccountOf(http), ct) is { } s ? TypedResults.Ok(s) : TypedResults.Problem(title: "No subscription", statusCode: 404))
            .WithName("GetSubscription")
            .WithSummary("The signed-in account's subscription.");

        viewer.MapPost("/subscription/cancel", async Task<Results<Ok<SubscriptionView>, ProblemHttpResult>> (HttpContext http, Checkouts c, CancellationToken ct) =>
                await c.CancelAsync(AccountOf(http), true, ct) is { } s ? TypedResults.Ok(s) : TypedResults.Problem(title: "No subscription", statusCode: 404))
            .WithName("CancelSubscription")
            .WithSummary("Cancels at the end of the paid period (it plays until then; no refund).");

        viewer.MapPost("/subscription/resume", async Task<Results<Ok<SubscriptionView>, ProblemHttpResult>> (HttpContext http, Checkouts c, CancellationToken ct) =>
                await c.CancelAsync(AccountOf(http), false, ct) is { } s ? TypedResults.Ok(s) : TypedResults.Problem(title: "No subscription", statusCode: 404))
            .WithName("ResumeSubscription")
            .WithSummary("Undoes a cancellation before the period ends.");

        viewer.MapPost("/subscription/plan", (HttpContext http, CancellationToken _) => Idempotent.RunAsync<PlanChangeInput>(http, Scope(http), (sp, input, key, ct) =>
                sp.GetRequiredService<Checkouts>().ChangePlanAsync(AccountOf(http), input, key, ct)))
            .Accepts<PlanChangeInput>("application/json")
            .WithName("ChangePlan")
            .WithSummary("Upgrade now with a prorated charge for the rest of the period, or downgrade at the next renewal (Idempotency-Key required).");

        viewer.MapPost("/subscription/payment-method", (HttpContext http, CancellationToken _) => Idempotent.RunAsync<CardInput>(http, Scope(http), (sp, input, key, ct) =>
                sp.GetRequiredService<Checkouts>().UpdateCardAsync(AccountOf(http), input, key, ct)))
            .Accepts<CardInput>("application/json")
            .WithName("UpdatePaymentMethod")
            .WithSummary("Replaces the card on file; a subscription in dunning is charged again at once (Idempotency-Key required).");

        viewer.MapPost("/titles/{id:guid}/rent", (Guid id, HttpContext http) => Idempotent.RunAsync<TitlePurchaseInput>(http, Scope(http), (sp, input, key, ct) =>
                sp.GetRequiredService<Checkouts>().BuyTitleAsync(AccountOf(http), EmailOf(http), id, GrantKind.Rental, input, key, sp.GetRequiredService<IClientCountry>().Of(http), ct)))
            .Accepts<TitlePurchaseInput>("application/json")
            .WithName("RentTitle")
            .WithSummary("Rents a title: 30 days to start, 48 hours from the first play (Idempotency-Key required). 409 when no licence in force lets the viewer rent it in their country (nothing charged).")
            .ProducesProblem(402).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422);

        viewer.MapPost("/titles/{id:guid}/buy", (Guid id, HttpContext http) => Idempotent.RunAsync<TitlePurchaseInput>(http, Scope(http), (sp, input, key, ct) =>
                sp.GetRequiredService<Checkouts>().BuyTitleAsync(AccountOf(http), EmailOf(http), id, GrantKind.Purchase, input, key, sp.GetRequiredService<IClientCountry>().Of(http), ct)))
            .Accepts<TitlePurchaseInput>("application/json")
            .WithName("BuyTitle")
            .WithSummary("Buys a title to keep (Idempotency-Key required). 409 when no licence in force lets the viewer buy it in their country (nothing charged).")
            .ProducesProblem(402).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422);

        viewer.MapGet("/invoices/mine", async (HttpContext http, BillingQueries q, CancellationToken ct) => TypedResults.Ok(await q.InvoicesAsync(AccountOf(http), ct)))
            .WithName("ListMyInvoices")
            .WithSummary("The signed-in account's invoices and credit notes, newest first.");

        viewer.MapGet("/payments/{id:guid}", async Task<Results<Ok<PaymentStatusView>, ProblemHttpResult>> (Guid id, HttpContext http, BillingQueries q, CancellationToken ct) =>
                await q.PaymentAsync(id, AccountOf(http), ct) is { } p ? TypedResults.Ok(p) : TypedResults.Problem(title: "No such payment", statusCode: 404))
            .WithName("GetPayment")
            .WithSummary("A payment of the signed-in account (its state after a 3-D Secure challenge).");

        var finance = root.MapGroup("").RequireAuthorization(Policies.ConsoleFinance);

        finance.MapPost("/plans", async Task<Results<Created<PlanView>, ProblemHttpResult>> (NewPlan input, Offers offers, HttpContext http, CancellationToken ct) =>
                await offers.CreateAsync(input, RequestActor.Of(http), ct) is { } p
                    ? TypedResults.Created($"/api/billing/plans/{p.Code}", p)
                    : TypedResults.Problem(title: "Code taken", detail: $"A plan '{input.Code}' exists.", statusCode: 409))
            .Validate<NewPlan>()
            .WithName("CreatePlan")
            .WithSummary("Adds a plan: prices per currency in minor units net of tax, monthly or yearly, trial days, maximum height, streams (finance).");

        finance.MapDelete("/plans/{code}", async Task<Results<NoContent, ProblemHttpResult>> (string code, Offers offers, HttpContext http, CancellationToken ct) =>
                await offers.RetireAsync(code, RequestActor.Of(http), ct) ? TypedResults.NoContent() : TypedResults.Problem(title: "No such plan", statusCode: 404))
            .WithName("RetirePlan")
            .WithSummary("Takes a plan off sale; its subscribers keep it (finance).");

        finance.MapPut("/titles/{id:guid}/offer", async (Guid id, TitleOfferInput input, Offers offers, HttpContext http, CancellationToken ct) =>
                TypedResults.Ok(await offers.SetOfferAsync(id, input, RequestActor.Of(http), ct)))
            .Validate<TitleOfferInput>()
            .WithName("SetTitleOffer")
            .WithSummary("Marks a title free, or offers it for rent or purchase (finance).");

        finance.MapGet("/invoices", async (Guid? accountId, BillingQueries q, CancellationToken ct) => TypedResults.Ok(await q.AllInvoicesAsync(accountId, ct)))
            .WithName("ListInvoices")
            .WithSummary("Invoices and credit notes, newest first, optionally of one account (finance).");

        finance.MapPost("/invoices/{id:guid}/refund", (Guid id, HttpContext http) => Idempotent.RunAsync<RefundInput>(http, "finance", (sp, _, _, ct) =>
                sp.GetRequiredService<Checkouts>().RefundAsync(id, RequestActor.Of(http), ct)))
            .Accepts<RefundInput>("application/json")
            .WithName("RefundInvoice")
            .WithSummary("Refunds a paid invoice in full with a credit note; what it paid for ends (finance; Idempotency-Key required).");

        finance.MapGet("/ledger", async (LedgerVerifier verifier, CancellationToken ct) => TypedResults.Ok(await verifier.VerifyAsync(ct)))
            .WithName("VerifyLedger")
            .WithSummary("Ledger totals per account and currency, and every disagreement between ledger, payments, invoices and subscriptions (finance).");

        finance.MapPost("/jobs/run", async (BillingScheduler scheduler, CancellationToken ct) => TypedResults.Ok(new { ran = await scheduler.RunDueAsync(ct), webhooks = await scheduler.DeliverSandboxWebhooksAsync(ct) }))
            .WithName("RunBillingJobs")
            .WithSummary("Runs due renewals, retries and revenue recognition now, and delivers pending sandbox webhooks (finance).");

        finance.MapGet("/sandbox/settlement", async (DateTimeOffset? from, DateTimeOffset? to, SandboxGateway sandbox, CancellationToken ct) =>
                TypedResults.Text(Reconciler.Write(await sandbox.SettlementAsync(from ?? DateTimeOffset.MinValue, to ?? DateTimeOffset.MaxValue, ct)), "text/csv; charset=utf-8"))
            .WithName("SandboxSettlement")
            .WithSummary("The sandbox gateway's settlement report for [from, to) as CSV (type,charge_id,amount,fee,net,currency,created_utc), as a real gateway would send it (finance).");

        finance.MapPost("/reconciliations", async Task<Results<Created<ReconciliationView>, ProblemHttpResult>> (DateTimeOffset from, DateTimeOffset to, string? fileName, HttpContext http, Reconciler reconciler, CancellationToken ct) =>
            {
                using var reader = new StreamReader(http.Request.Body);
                var text = await reader.ReadToEndAsync(ct);
                if (text.Length > 20_000_000)
                {
                    return TypedResults.Problem(title: "File too large", detail: "Import at most 20 MB per report.", statusCode: 413);
                }

                var (run, error) = await reconciler.ImportAsync(text, fileName ?? "settlement.csv", from, to, RequestActor.Of(http), ct);
                return run is null
                    ? TypedResults.Problem(title: "Not a settlement report", detail: error, statusCode: 400)
                    : TypedResults.Created($"/api/billing/reconciliations/{run.Id}", run);
            })
            .WithName("ImportSettlement") // the body is read as text/csv (no Accepts metadata: it would answer 415 before authorization)
            .WithSummary("Imports a gateway settlement report (CSV body) for [from, to) and matches it against payments: mismatches missing, duplicated, amount differs, fee differs, unknown (finance).")
            .ProducesProblem(400);

        RevenueKpis.Map(finance);

        finance.MapGet("/reconciliations", async (Reconciler reconciler, CancellationToken ct) => TypedResults.Ok(await reconciler.RunsAsync(ct)))
            .WithName("ListReconciliations")
            .WithSummary("The latest imported settlement reports with their mismatches (finance).");

        finance.MapGet("/reconciliations/{id:guid}", async Task<Results<Ok<ReconciliationView>, ProblemHttpResult>> (Guid id, Reconciler reconciler, CancellationToken ct) =>
                await reconciler.RunAsync(id, ct) is { } r ? TypedResults.Ok(r) : TypedResults.Problem(title: "No such reconciliation", statusCode: 404))
            .WithName("GetReconciliation")
            .WithSummary("One imported settlement report and its mismatches (finance).");

        finance.MapPost("/reconciliations/mismatches/{id:guid}/resolve", async Task<Results<Ok<MismatchView>, ProblemHttpResult>> (Guid id, ResolveInput input, Reconciler reconciler, HttpContext http, CancellationToken ct) =>
                await reconciler.ResolveAsync(id, input.Note, RequestActor.Of(http), ct) is { } m ? TypedResults.Ok(m) : TypedResults.Problem(title: "No such mismatch", statusCode: 404))
            .Validate<ResolveInput>()
            .WithName("ResolveMismatch")
            .WithSummary("Marks a reconciliation mismatch resolved with a note saying what was done (finance; audited).");

        finance.MapPost("/coupons", async Task<Results<Created<CouponView>, ProblemHttpResult>> (NewCoupon input, Coupons coupons, HttpContext http, CancellationToken ct) =>
                await coupons.CreateAsync(input, RequestActor.Of(http), ct) is ({ } c, _)
                    ? TypedResults.Created($"/api/billing/coupons/{c.Code}", c)
                    : TypedResults.Problem(title: "Code taken", detail: "The coupon code or a promo code exists.", statusCode: 409))
            .Validate<NewCoupon>()
            .WithName("CreateCoupon")
            .WithSummary("Adds a coupon: percentOff or amountsOff per currency (minor units), duration once, repeating (periods) or forever, maxRedemptions, maxPerAccount, expiresAt, plans (empty: all) and its promo codes (finance).")
            .ProducesProblem(409);

        finance.MapGet("/coupons", async (Coupons coupons, CancellationToken ct) => TypedResults.Ok(await coupons.ListAsync(ct)))
            .WithName("ListCoupons")
            .WithSummary("Coupons with their promo codes and redemptions, newest first (finance).");

        finance.MapGet("/fraud/queue", async (bool? reviewed, FraudReview review, CancellationToken ct) => TypedResults.Ok(await review.QueueAsync(reviewed ?? false, ct)))
            .WithName("FraudQueue")
            .WithSummary("Payment attempts the fraud check challenged or blocked, or allowed with a high score: unreviewed (or, with reviewed=true, reviewed), newest first, with score, decision and reasons (finance).");

        finance.MapPost("/fraud/assessments/{id:guid}/label", async Task<Results<Ok<FraudAssessmentView>, ProblemHttpResult>> (Guid id, FraudLabelInput input, FraudReview review, HttpContext http, CancellationToken ct) =>
                await review.LabelAsync(id, input.Label == "fraud" ? FraudLabel.Fraud : FraudLabel.Legitimate, RequestActor.Of(http), ct) is { } a
                    ? TypedResults.Ok(a)
                    : TypedResults.Problem(title: "No such assessment", statusCode: 404))
            .Validate<FraudLabelInput>()
            .WithName("LabelFraudAssessment")
            .WithSummary("A review decision on a payment attempt (fraud or legitimate): it becomes a label the fraud model trains on (finance; audited).");

        finance.MapGet("/fraud/summary", async (FraudReview review, CancellationToken ct) => TypedResults.Ok(await review.SummaryAsync(ct)))
            .WithName("FraudSummary")
            .WithSummary("Labels so far, the model in use, and each rule's and the model's precision and recall on the labelled history (finance).");

        finance.MapPost("/fraud/model", async (BillingScheduler scheduler, CancellationToken ct) =>
                await scheduler.TrainFraudModelAsync(ct) is { } m
                    ? Results.Ok(new { trained = true, m.TrainedAt, m.Labels, m.Frauds })
                    : Results.Ok(new { trained = false }))
            .WithName("TrainFraudModel")
            .WithSummary("Trains the fraud model now when there are enough labels of both classes and new ones since the last model (the worker does it too) (finance).");

        return root;
    }

    private static Guid AccountOf(HttpContext http) => Guid.Parse(http.User.FindFirstValue(ClaimTypes.NameIdentifier)!);

    private static string EmailOf(HttpContext http) => http.User.FindFirstValue(ClaimTypes.Email) ?? http.User.Identity?.Name ?? "";

    private static string Scope(HttpContext http) => $"account:{AccountOf(http):N}";

    /// <summary>For <c>marquee billing verify</c>.</summary>
    public static async Task<(IReadOnlyList<(string Type, string Account, string Currency, long Debit, long Credit, long Balance)> Totals, int Transactions, int Payments, int Invoices, int Subscriptions, IReadOnlyList<string> Problems)> VerifyAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        await using var scope = services.CreateAsyncScope();
        var r = await scope.ServiceProvider.GetRequiredService<LedgerVerifier>().VerifyAsync(cancellationToken);
        return ([.. r.Totals.Select(t => (t.Type, t.Account, t.Currency, t.Debit, t.Credit, t.Balance))], r.Transactions, r.Payments, r.Invoices, r.Subscriptions, r.Problems);
    }
}

/// <summary>The (empty) body of a refund: <c>{}</c>.</summary>
internal sealed record RefundInput(string? Reason = null);

internal sealed record PaymentStatusView(Guid Id, string Status, long Amount, string Currency, string InvoiceNumber, string? Failure);

/// <summary>Reads for the account and finance pages.</summary>
internal sealed class BillingQueries(BillingDb db)
{
    public async Task<SubscriptionView?> SubscriptionAsync(Guid accountId, CancellationToken ct)
    {
        var sub = await db.Subscriptions.AsNoTracking().Where(s => s.AccountId == accountId).OrderByDescending(s => s.Open).ThenByDescending(s => s.CreatedAt).FirstOrDefaultAsync(ct);
        if (sub is null)
        {
            return null;
        }

        var plan = await db.Plans.AsNoTracking().FirstAsync(p => p.Id == sub.PlanId, ct);
        var next = sub.NextPlanId is { } n ? await db.Plans.AsNoTracking().FirstAsync(p => p.Id == n, ct) : null;
        return Checkouts.View(sub, plan, next);
    }

    public async Task<IReadOnlyList<InvoiceView>> InvoicesAsync(Guid accountId, CancellationToken ct) =>
        [.. (await db.Invoices.AsNoTracking().Include(i => i.Lines).Where(i => i.AccountId == accountId && i.Status != InvoiceStatus.Void).ToListAsync(ct))
            .OrderByDescending(i => i.IssuedAt).ThenByDescending(i => i.Sequence).Select(InvoiceView.Of)];

    public async Task<IReadOnlyList<InvoiceView>> AllInvoicesAsync(Guid? accountId, CancellationToken ct) =>
        [.. (await db.Invoices.AsNoTracking().Include(i => i.Lines).Where(i => accountId == null || i.AccountId == accountId).ToListAsync(ct))
            .OrderByDescending(i => i.IssuedAt).ThenByDescending(i => i.Sequence).Take(500).Select(InvoiceView.Of)];

    public async Task<PaymentStatusView?> PaymentAsync(Guid id, Guid accountId, CancellationToken ct)
    {
        var p = await db.Payments.AsNoTracking().FirstOrDefaultAsync(x => x.Id == id && x.AccountId == accountId, ct);
        if (p is null)
        {
            return null;
        }

        var number = await db.Invoices.AsNoTracking().Where(i => i.Id == p.InvoiceId).Select(i => i.Number).FirstAsync(ct);
        return new PaymentStatusView(p.Id, p.Status.ToString(), p.Amount, p.Currency, number, p.Failure);
    }
}
