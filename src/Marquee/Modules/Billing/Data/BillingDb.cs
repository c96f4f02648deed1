using Marquee.Platform.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Billing.Data;

internal class BillingDb(DbContextOptions options) : ModuleDbContext(options), IModuleDb
{
    public static string SchemaName => "billing";

    public override string Schema => SchemaName;

    /// <summary>
    /// Saves in two steps, in one transaction, when a subscription opens while another of the account closes (a paid plan
    /// that replaces the free one once its 3-D Secure payment succeeds, or the free one that stays when it fails): the
    /// one-open-subscription-per-account index is checked per statement, and EF orders two updates of one table as it
    /// likes, so the closing rows are saved first and the opening ones after.
    /// </summary>
    public override async Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        var opening = ChangeTracker.Entries<Subscription>()
            .Where(e => e.State == EntityState.Modified && e.Entity.Open && !e.Property(s => s.Open).OriginalValue)
            .ToList();
        if (opening.Count == 0)
        {
            return await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
        }

        await using var tx = Database.CurrentTransaction is null ? await Database.BeginTransactionAsync(cancellationToken) : null;
        foreach (var e in opening)
        {
            e.Entity.Open = false;
        }

        var saved = await base.SaveChangesAsync(acceptAllChangesOnSuccess: true, cancellationToken);
        foreach (var e in opening)
        {
            e.Entity.Open = true;
        }

        saved += await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
        if (tx is not null)
        {
            await tx.CommitAsync(cancellationToken);
        }

        return saved;
    }

    public DbSet<Plan> Plans => Set<Plan>();

    public DbSet<PlanPrice> PlanPrices => Set<PlanPrice>();

    public DbSet<TitleOffer> TitleOffers => Set<TitleOffer>();

    public DbSet<Customer> Customers => Set<Customer>();

    public DbSet<Subscription> Subscriptions => Set<Subscription>();

    public DbSet<TitleGrant> TitleGrants => Set<TitleGrant>();

    public DbSet<Invoice> Invoices => Set<Invoice>();

    public DbSet<InvoiceLine> InvoiceLines => Set<InvoiceLine>();

    public DbSet<InvoiceSeries> InvoiceSeries => Set<InvoiceSeries>();

    public DbSet<Payment> Payments => Set<Payment>();

    public DbSet<LedgerEntry> Ledger => Set<LedgerEntry>();

    public DbSet<Recognition> Recognitions => Set<Recognition>();

    public DbSet<BillingJob> Jobs => Set<BillingJob>();

    public DbSet<IdempotencyRecord> Idempotency => Set<IdempotencyRecord>();

    public DbSet<WebhookReceipt> Webhooks => Set<WebhookReceipt>();

    public DbSet<SandboxCharge> SandboxCharges => Set<SandboxCharge>();

    public DbSet<SandboxMethod> SandboxMethods => Set<SandboxMethod>();

    public DbSet<SandboxWebhook> SandboxWebhooks => Set<SandboxWebhook>();

    public DbSet<ReconciliationRun> ReconciliationRuns => Set<ReconciliationRun>();

    public DbSet<ReconciliationMismatch> ReconciliationMismatches => Set<ReconciliationMismatch>();

    public DbSet<FraudAssessment> FraudAssessments => Set<FraudAssessment>();

    public DbSet<FraudModel> FraudModels => Set<FraudModel>();

    public DbSet<Coupon> Coupons => Set<Coupon>();

    public DbSet<PromoCode> PromoCodes => Set<PromoCode>();

    public DbSet<CouponRedemption> CouponRedemptions => Set<CouponRedemption>();

    protected override void ConfigureModel(ModelBuilder modelBuilder)
    {
        var p = modelBuilder.Entity<Plan>();
        p.ToTable("plans");
        p.HasKey(x => x.Id);
        p.Property(x => x.Code).HasMaxLength(60);
        p.Property(x => x.Name).HasMaxLength(200);
        p.Property(x => x.Period).HasConversion<string>().HasMaxLength(10);
        p.HasIndex(x => x.Code).IsUnique();
        p.HasMany(x => x.Prices).WithOne().HasForeignKey(x => x.PlanId).OnDelete(DeleteBehavior.Cascade);

        var pp = modelBuilder.Entity<PlanPrice>();
        pp.ToTable("plan_prices");
        pp.HasKey(x => new { x.PlanId, x.Currency });
        pp.Property(x => x.Currency).HasMaxLength(3);

        var o = modelBuilder.Entity<TitleOffer>();
        o.ToTable("title_offers");
        o.HasKey(x => x.TitleId);
        o.Property(x => x.Currency).HasMaxLength(3);

        var c = modelBuilder.Entity<Customer>();
        c.ToTable("customers");
        c.HasKey(x => x.AccountId);
        c.Property(x => x.Email).HasMaxLength(320);
        c.Property(x => x.Country).HasMaxLength(2);

        var s = modelBuilder.Entity<Subscription>();
        s.ToTable("subscriptions");
        s.HasKey(x => x.Id);
        s.Property(x => x.Currency).HasMaxLength(3);
        s.Property(x => x.Status).HasConversion<string>().HasMaxLength(20);
        s.Property(x => x.PaymentMethod).HasMaxLength(100);
        s.Property(x => x.Version).IsConcurrencyToken();
        s.HasIndex(x => x.AccountId).IsUnique().HasFilter("\"Open\" = TRUE");
        s.HasIndex(x => x.Status);

        var g = modelBuilder.Entity<TitleGrant>();
        g.ToTable("title_grants");
        g.HasKey(x => x.Id);
        g.Property(x => x.Kind).HasConversion<string>().HasMaxLength(10);
        g.HasIndex(x => new { x.AccountId, x.TitleId });

        var i = modelBuilder.Entity<Invoice>();
        i.ToTable("invoices");
        i.HasKey(x => x.Id);
        i.Property(x => x.Series).HasMaxLength(10);
        i.Property(x => x.Number).HasMaxLength(40);
        i.Property(x => x.Currency).HasMaxLength(3);
        i.Property(x => x.Country).HasMaxLength(2);
        i.Property(x => x.Kind).HasConversion<string>().HasMaxLength(12);
        i.Property(x => x.Status).HasConversion<string>().HasMaxLength(10);
        i.Property(x => x.TaxRate).HasPrecision(9, 4);
        i.Property(x => x.Purpose).HasMaxLength(20);
        i.HasIndex(x => new { x.Series, x.Sequence }).IsUnique();
        i.HasIndex(x => x.AccountId);
        i.HasIndex(x => x.SubscriptionId);
        i.HasMany(x => x.Lines).WithOne().HasForeignKey(x => x.InvoiceId).OnDelete(DeleteBehavior.Cascade);

        var il = modelBuilder.Entity<InvoiceLine>();
        il.ToTable("invoice_lines");
        il.HasKey(x => x.Id);
        il.Property(x => x.Description).HasMaxLength(300);

        var ser = modelBuilder.Entity<InvoiceSeries>();
        ser.ToTable("invoice_series");
        ser.HasKey(x => x.Series);
        ser.Property(x => x.Series).HasMaxLength(10);
        ser.Property(x => x.Next).IsConcurrencyToken();

        var pay = modelBuilder.Entity<Payment>();
        pay.ToTable("payments");
        pay.HasKey(x => x.Id);
        pay.Property(x => x.Currency).HasMaxLength(3);
        pay.Property(x => x.Status).HasConversion<string>().HasMaxLength(20);
        pay.Property(x => x.GatewayRef).HasMaxLength(100);
        pay.Property(x => x.Failure).HasMaxLength(200);
        pay.Property(x => x.Version).IsConcurrencyToken();
        pay.HasIndex(x => x.GatewayRef).IsUnique();
        pay.HasIndex(x => x.InvoiceId);

        var l = modelBuilder.Entity<LedgerEntry>();
        l.ToTable("ledger");
        l.HasKey(x => x.Id);
        l.Property(x => x.Account).HasMaxLength(40);
        l.Property(x => x.Type).HasConversion<string>().HasMaxLength(12);
        l.Property(x => x.Currency).HasMaxLength(3);
        l.Property(x => x.Memo).HasMaxLength(200);
        l.Property(x => x.Source).HasMaxLength(100);
        l.HasIndex(x => x.TransactionId);
        l.HasIndex(x => x.Source);

        var r = modelBuilder.Entity<Recognition>();
        r.ToTable("recognitions");
        r.HasKey(x => x.Id);
        r.Property(x => x.Currency).HasMaxLength(3);
        r.HasIndex(x => new { x.InvoiceId, x.Sequence }).IsUnique();
        r.Property(x => x.RecognisedAt).IsConcurrencyToken();
        r.HasIndex(x => x.DueAt);

        var j = modelBuilder.Entity<BillingJob>();
        j.ToTable("jobs");
        j.HasKey(x => x.Id);
        j.Property(x => x.Kind).HasConversion<string>().HasMaxLength(20);
        j.Property(x => x.Key).HasMaxLength(200);
        j.Property(x => x.Outcome).HasMaxLength(200);
        j.Property(x => x.DoneAt).IsConcurrencyToken();
        j.HasIndex(x => x.Key).IsUnique();
        j.HasIndex(x => new { x.DoneAt, x.DueAt });

        var k = modelBuilder.Entity<IdempotencyRecord>();
        k.ToTable("idempotency");
        k.HasKey(x => new { x.Scope, x.Key });
        k.Property(x => x.Scope).HasMaxLength(100);
        k.Property(x => x.Key).HasMaxLength(200);
        k.Property(x => x.RequestHash).HasMaxLength(64);
        k.Property(x => x.Response).HasMaxLength(20000);
        k.Property(x => x.Location).HasMaxLength(300);

        var w = modelBuilder.Entity<WebhookReceipt>();
        w.ToTable("webhook_receipts");
        w.HasKey(x => x.EventId);
        w.Property(x => x.EventId).HasMaxLength(100);
        w.Property(x => x.Type).HasMaxLength(60);

        var sc = modelBuilder.Entity<SandboxCharge>();
        sc.ToTable("sandbox_charges");
        sc.HasKey(x => x.Id);
        sc.Property(x => x.Id).HasMaxLength(40);
        sc.Property(x => x.IdempotencyKey).HasMaxLength(200);
        sc.Property(x => x.Currency).HasMaxLength(3);
        sc.Property(x => x.Method).HasMaxLength(40);
        sc.Property(x => x.Status).HasConversion<string>().HasMaxLength(20);
        sc.Property(x => x.Failure).HasMaxLength(200);
        sc.HasIndex(x => x.IdempotencyKey).IsUnique();

        var sm = modelBuilder.Entity<SandboxMethod>();
        sm.ToTable("sandbox_methods");
        sm.HasKey(x => x.Token);
        sm.Property(x => x.Token).HasMaxLength(40);
        sm.Property(x => x.Card).HasMaxLength(19);

        var sw = modelBuilder.Entity<SandboxWebhook>();
        sw.ToTable("sandbox_webhooks");
        sw.HasKey(x => x.Id);
        sw.Property(x => x.Body).HasMaxLength(4000);
        sw.HasIndex(x => x.DeliveredAt);

        var rr = modelBuilder.Entity<ReconciliationRun>();
        rr.ToTable("reconciliation_runs");
        rr.HasKey(x => x.Id);
        rr.Property(x => x.FileName).HasMaxLength(200);
        rr.Property(x => x.ImportedBy).HasMaxLength(200);
        rr.HasIndex(x => x.ImportedAt);

        var rm = modelBuilder.Entity<ReconciliationMismatch>();
        rm.ToTable("reconciliation_mismatches");
        rm.HasKey(x => x.Id);
        rm.Property(x => x.Kind).HasConversion<string>().HasMaxLength(20);
        rm.Property(x => x.ChargeId).HasMaxLength(100);
        rm.Property(x => x.Currency).HasMaxLength(3);
        rm.Property(x => x.Detail).HasMaxLength(300);
        rm.Property(x => x.ResolvedBy).HasMaxLength(200);
        rm.Property(x => x.Resolution).HasMaxLength(500);
        rm.HasIndex(x => x.RunId);
        rm.HasIndex(x => x.ResolvedAt);

        var fa = modelBuilder.Entity<FraudAssessment>();
        fa.ToTable("fraud_assessments");
        fa.HasKey(x => x.Id);
        fa.Property(x => x.Purpose).HasMaxLength(20);
        fa.Property(x => x.Currency).HasMaxLength(3);
        fa.Property(x => x.Ip).HasMaxLength(45);
        fa.Property(x => x.IpCountry).HasMaxLength(2);
        fa.Property(x => x.CardFingerprint).HasMaxLength(64);
        fa.Property(x => x.CardCountry).HasMaxLength(2);
        fa.Property(x => x.AccountCountry).HasMaxLength(2);
        fa.Property(x => x.Decision).HasConversion<string>().HasMaxLength(10);
        fa.Property(x => x.Label).HasConversion<string>().HasMaxLength(12);
        fa.Property(x => x.Reasons).HasMaxLength(2000);
        fa.Property(x => x.LabelledBy).HasMaxLength(200);
        fa.HasIndex(x => new { x.AccountId, x.At });
        fa.HasIndex(x => new { x.Ip, x.At });
        fa.HasIndex(x => x.At);
        fa.HasIndex(x => x.PaymentId);

        var fm = modelBuilder.Entity<FraudModel>();
        fm.ToTable("fraud_models");
        fm.HasKey(x => x.Id);
        fm.HasIndex(x => x.TrainedAt);

        var cp = modelBuilder.Entity<Coupon>();
        cp.ToTable("coupons");
        cp.HasKey(x => x.Id);
        cp.Property(x => x.Code).HasMaxLength(60);
        cp.Property(x => x.Name).HasMaxLength(200);
        cp.Property(x => x.PercentOff).HasPrecision(5, 2);
        cp.Property(x => x.Duration).HasConversion<string>().HasMaxLength(10);
        cp.Property(x => x.Plans).HasMaxLength(1000);
        cp.Property(x => x.Redeemed).IsConcurrencyToken();
        cp.HasIndex(x => x.Code).IsUnique();
        cp.HasMany(x => x.AmountsOff).WithOne().HasForeignKey(x => x.CouponId).OnDelete(DeleteBehavior.Cascade);

        var ca = modelBuilder.Entity<CouponAmount>();
        ca.ToTable("coupon_amounts");
        ca.HasKey(x => new { x.CouponId, x.Currency });
        ca.Property(x => x.Currency).HasMaxLength(3);

        var pc = modelBuilder.Entity<PromoCode>();
        pc.ToTable("promo_codes");
        pc.HasKey(x => x.Code);
        pc.Property(x => x.Code).HasMaxLength(40);
        pc.HasIndex(x => x.CouponId);

        var cr = modelBuilder.Entity<CouponRedemption>();
        cr.ToTable("coupon_redemptions");
        cr.HasKey(x => x.Id);
        cr.Property(x => x.PromoCode).HasMaxLength(40);
        cr.HasIndex(x => new { x.CouponId, x.AccountId });
        cr.HasIndex(x => x.InvoiceId);
    }
}

internal sealed class SqliteBillingDb(DbContextOptions<SqliteBillingDb> options) : BillingDb(options);

internal sealed class PostgresBillingDb(DbContextOptions<PostgresBillingDb> options) : BillingDb(options);

internal sealed class SqliteBillingDbFactory() : DesignTimeFactory<SqliteBillingDb>(DatabaseProvider.Sqlite, BillingDb.SchemaName);

internal sealed class PostgresBillingDbFactory() : DesignTimeFactory<PostgresBillingDb>(DatabaseProvider.Postgres, BillingDb.SchemaName);

internal enum BillingPeriod
{
    Monthly,
    Yearly,
}

/// <summary>A subscription plan (SVOD tier, or AVOD with <see cref="WithAds"/>): prices per currency in minor units, trial, maximum height and concurrent streams.</summary>
internal sealed class Plan
{
    public Guid Id { get; set; }

    public required string Code { get; set; }

    public required string Name { get; set; }

    public BillingPeriod Period { get; set; }

    public int TrialDays { get; set; }

    /// <summary>Tallest rendition the plan plays (pixels), e.g. 720, 1080, 2160.</summary>
    public int MaxHeight { get; set; }

    public int Streams { get; set; }

    /// <summary>
    /// Ad-funded (AVOD): playback on this plan is with ads. Only such a plan may cost 0 (free with ads): checkout then
    /// takes no card and charges nothing, and its renewals roll the period without an invoice.
    /// </summary>
    public bool WithAds { get; set; }

    public bool Active { get; set; } = true;

    public DateTimeOffset CreatedAt { get; set; }

    public List<PlanPrice> Prices { get; set; } = [];
}

internal sealed class PlanPrice
{
    public Guid PlanId { get; set; }

    public required string Currency { get; set; }

    /// <summary>Net of tax, in the currency's minor unit.</summary>
    public long Amount { get; set; }
}

/// <summary>How one title is offered: free (freemium), and/or for rent or purchase (TVOD), in one currency.</summary>
internal sealed class TitleOffer
{
    public Guid TitleId { get; set; }

    public bool Free { get; set; }

    public string Currency { get; set; } = "EUR";

    public long? RentalPrice { get; set; }

    public long? PurchasePrice { get; set; }
}

internal sealed class Customer
{
    public Guid AccountId { get; set; }

    public string Email { get; set; } = "";

    /// <summary>ISO 3166-1 alpha-2 country for tax.</summary>
    public string Country { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }
}

internal enum SubscriptionStatus
{
    /// <summary>Waiting for the first payment (a 3-D Secure challenge): does not play.</summary>
    Incomplete,

    /// <summary>In the trial: plays, first charge at the trial's end.</summary>
    Trialing,

    Active,

    /// <summary>A renewal failed: retries run; plays until the grace period ends.</summary>
    PastDue,

    /// <summary>Dunning gave up (or grace ended): does not play until a payment succeeds.</summary>
    Suspended,

    /// <summary>Ended (cancelled at period end): does not play.</summary>
    Canceled,
}

internal sealed class Subscription
{
    public Guid Id { get; set; }

    public Guid AccountId { get; set; }

    public Guid PlanId { get; set; }

    /// <summary>The plan that takes over at the next renewal (a downgrade).</summary>
    public Guid? NextPlanId { get; set; }

    public required string Currency { get; set; }

    public SubscriptionStatus Status { get; set; }

    /// <summary>True until the subscription is cancelled for good: one open subscription per account (a unique index).</summary>
    public bool Open { get; set; } = true;

    public DateTimeOffset CurrentPeriodStart { get; set; }

    public DateTimeOffset CurrentPeriodEnd { get; set; }

    /// <summary>Periods are <see cref="Anchor"/> plus whole months (no drift from short months): period n starts at Anchor + n periods.</summary>
    public DateTimeOffset Anchor { get; set; }

    /// <summary>The current period's index from <see cref="Anchor"/> (-1 during a trial that ends at the anchor).</summary>
    public int PeriodIndex { get; set; }

    /// <summary>A coupon that discounts this subscription's charges.</summary>
    public Guid? CouponId { get; set; }

    /// <summary>Charges the coupon still discounts (null with a coupon: forever).</summary>
    public int? CouponPeriodsLeft { get; set; }

    public bool CancelAtPeriodEnd { get; set; }

    /// <summary>The gateway's token of the card on file (never the card number).</summary>
    public required string PaymentMethod { get; set; }

    /// <summary>Failed charges of the current renewal.</summary>
    public int FailedAttempts { get; set; }

    public DateTimeOffset? PastDueSince { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    public int Version { get; set; }
}

internal enum GrantKind
{
    Rental,
    Purchase,
}

/// <summary>A rental or purchase of one title by one account.</summary>
internal sealed class TitleGrant
{
    public Guid Id { get; set; }

    public Guid AccountId { get; set; }

    public Guid TitleId { get; set; }

    public GrantKind Kind { get; set; }

    public DateTimeOffset GrantedAt { get; set; }

    /// <summary>A rental's 48 hours start here.</summary>
    public DateTimeOffset? FirstPlayedAt { get; set; }

    public Guid PaymentId { get; set; }

    public bool Revoked { get; set; }
}

internal enum InvoiceKind
{
    Invoice,
    CreditNote,
}

internal enum InvoiceStatus
{
    Open,
    Paid,
    Void,
}

internal sealed class Invoice
{
    public Guid Id { get; set; }

    /// <summary><c>INV</c> for invoices, <c>CN</c> for credit notes: numbers are sequential per series, without gaps.</summary>
    public required string Series { get; set; }

    public long Sequence { get; set; }

    /// <summary>Series, year of issue and sequence, e.g. INV-2027-000012.</summary>
    public required string Number { get; set; }

    public InvoiceKind Kind { get; set; }

    public InvoiceStatus Status { get; set; }

    public Guid AccountId { get; set; }

    public Guid? SubscriptionId { get; set; }

    public Guid? PlanId { get; set; }

    public Guid? TitleId { get; set; }

    /// <summary><c>subscription</c>, <c>proration</c>, <c>rental</c>, <c>purchase</c>, <c>refund</c>.</summary>
    public required string Purpose { get; set; }

    /// <summary>The invoice a credit note credits.</summary>
    public Guid? CreditsInvoiceId { get; set; }

    public DateTimeOffset? PeriodStart { get; set; }

    public DateTimeOffset? PeriodEnd { get; set; }

    public required string Currency { get; set; }

    public required string Country { get; set; }

    public decimal TaxRate { get; set; }

    /// <summary>Net after <see cref="Discount"/> (what tax is computed on).</summary>
    public long Net { get; set; }

    /// <summary>A coupon's discount (positive, minor units) already taken off <see cref="Net"/>; its line is negative.</summary>
    public long Discount { get; set; }

    public long Tax { get; set; }

    public long Total { get; set; }

    public DateTimeOffset IssuedAt { get; set; }

    public DateTimeOffset? PaidAt { get; set; }

    public List<InvoiceLine> Lines { get; set; } = [];
}

internal sealed class InvoiceLine
{
    public Guid Id { get; set; }

    public Guid InvoiceId { get; set; }

    public int Position { get; set; }

    public required string Description { get; set; }

    public long Amount { get; set; }

    public bool IsTax { get; set; }
}

internal sealed class InvoiceSeries
{
    public required string Series { get; set; }

    public long Next { get; set; }
}

internal enum PaymentStatus
{
    /// <summary>The gateway asks the payer to confirm (3-D Secure): a redirect.</summary>
    RequiresAction,

    Succeeded,

    Failed,

    Refunded,

    /// <summary>Paid; a refund was asked and the gateway has not finished it (no credit note nor ledger reversal yet).</summary>
    RefundPending,

    /// <summary>Paid; the refund asked for failed at the gateway (the money was not returned): finance's to resolve.</summary>
    RefundFailed,
}

internal sealed class Payment
{
    public Guid Id { get; set; }

    public Guid AccountId { get; set; }

    public Guid InvoiceId { get; set; }

    public long Amount { get; set; }

    /// <summary>The gateway's fee, known once it succeeded.</summary>
    public long Fee { get; set; }

    public required string Currency { get; set; }

    public PaymentStatus Status { get; set; }

    /// <summary>The gateway's charge id.</summary>
    public required string GatewayRef { get; set; }

    public string? Failure { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? SettledAt { get; set; }

    public DateTimeOffset? ReceiptSentAt { get; set; }

    public int Version { get; set; }
}

internal enum AccountType
{
    Asset,
    Liability,
    Revenue,
    Expense,
}

/// <summary>One leg of a balanced ledger transaction: debits equal credits per transaction and currency.</summary>
internal sealed class LedgerEntry
{
    public Guid Id { get; set; }

    public Guid TransactionId { get; set; }

    public DateTimeOffset At { get; set; }

    public required string Account { get; set; }

    public AccountType Type { get; set; }

    public required string Currency { get; set; }

    public long Debit { get; set; }

    public long Credit { get; set; }

    public required string Memo { get; set; }

    /// <summary>What posted it, e.g. <c>payment:&lt;id&gt;</c>, <c>recognition:&lt;id&gt;</c>.</summary>
    public required string Source { get; set; }
}

/// <summary>A slice of deferred revenue recognised on <see cref="DueAt"/> (monthly for yearly plans).</summary>
internal sealed class Recognition
{
    public Guid Id { get; set; }

    public Guid InvoiceId { get; set; }

    public int Sequence { get; set; }

    public DateTimeOffset DueAt { get; set; }

    public long Amount { get; set; }

    public required string Currency { get; set; }

    public Guid? TitleId { get; set; }

    public DateTimeOffset? RecognisedAt { get; set; }

    public bool Cancelled { get; set; }
}

internal enum JobKind
{
    Renew,
    Retry,
}

/// <summary>A durable scheduled job: <see cref="Key"/> is unique (one renewal per subscription and period).</summary>
internal sealed class BillingJob
{
    public Guid Id { get; set; }

    public JobKind Kind { get; set; }

    public required string Key { get; set; }

    public Guid SubscriptionId { get; set; }

    public DateTimeOffset PeriodStart { get; set; }

    public DateTimeOffset DueAt { get; set; }

    public DateTimeOffset? DoneAt { get; set; }

    public int Attempt { get; set; }

    public string? Outcome { get; set; }
}

/// <summary>An <c>Idempotency-Key</c> and the answer given, stored in the same transaction as the effect.</summary>
internal sealed class IdempotencyRecord
{
    public required string Scope { get; set; }

    public required string Key { get; set; }

    public required string RequestHash { get; set; }

    public int Status { get; set; }

    public required string Response { get; set; }

    public string? Location { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A gateway webhook event handled (its effect committed in the same transaction).</summary>
internal sealed class WebhookReceipt
{
    public required string EventId { get; set; }

    public required string Type { get; set; }

    public DateTimeOffset ReceivedAt { get; set; }
}

internal enum SandboxChargeStatus
{
    RequiresAction,
    Succeeded,
    Failed,
    Refunded,
}

/// <summary>The sandbox gateway's own record of a charge (as an outside gateway would keep it).</summary>
internal sealed class SandboxCharge
{
    public required string Id { get; set; }

    public required string IdempotencyKey { get; set; }

    public long Amount { get; set; }

    public long Fee { get; set; }

    public required string Currency { get; set; }

    public required string Method { get; set; }

    public SandboxChargeStatus Status { get; set; }

    /// <summary>When the charge was refunded (the settlement report's refund line).</summary>
    public DateTimeOffset? RefundedAt { get; set; }

    public string? Failure { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

internal sealed class SandboxMethod
{
    public required string Token { get; set; }

    /// <summary>The sandbox test card (test numbers only, never real cards).</summary>
    public required string Card { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A webhook the sandbox gateway has to deliver (at least once, sometimes twice, not in order).</summary>
internal sealed class SandboxWebhook
{
    public Guid Id { get; set; }

    public required string Body { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? DeliveredAt { get; set; }
}

/// <summary>One imported settlement report and what it was matched against.</summary>
internal sealed class ReconciliationRun
{
    public Guid Id { get; set; }

    public DateTimeOffset ImportedAt { get; set; }

    /// <summary>The report's period: payments created in [From, To) are expected in it.</summary>
    public DateTimeOffset From { get; set; }

    public DateTimeOffset To { get; set; }

    public required string FileName { get; set; }

    public int Lines { get; set; }

    public int Matched { get; set; }

    public required string ImportedBy { get; set; }
}

internal enum MismatchKind
{
    /// <summary>A payment of the period that the report lacks.</summary>
    Missing,

    /// <summary>A charge (or refund) reported more than once.</summary>
    Duplicated,

    AmountDiffers,

    FeeDiffers,

    /// <summary>A charge or refund the gateway reports that Marquee has no matching payment for.</summary>
    Unknown,
}

internal sealed class ReconciliationMismatch
{
    public Guid Id { get; set; }

    public Guid RunId { get; set; }

    public MismatchKind Kind { get; set; }

    public required string ChargeId { get; set; }

    public Guid? PaymentId { get; set; }

    public required string Currency { get; set; }

    /// <summary>Marquee's figure (minor units; a refund negative).</summary>
    public long? ExpectedAmount { get; set; }

    /// <summary>The report's figure.</summary>
    public long? ActualAmount { get; set; }

    public long? ExpectedFee { get; set; }

    public long? ActualFee { get; set; }

    public required string Detail { get; set; }

    public DateTimeOffset? ResolvedAt { get; set; }

    public string? ResolvedBy { get; set; }

    public string? Resolution { get; set; }
}

internal enum FraudDecision
{
    Allow,

    /// <summary>The payer must pass the gateway's challenge (3-D Secure) for the charge to go through.</summary>
    Challenge,

    /// <summary>Refused before any charge.</summary>
    Block,
}

internal enum FraudLabel
{
    Legitimate,
    Fraud,
}

/// <summary>
/// One on-session payment attempt as the fraud check saw it: the signals (kept as features for the model), the score,
/// the decision and its reasons; a review's <see cref="Label"/> makes it a training example.
/// </summary>
internal sealed class FraudAssessment
{
    public Guid Id { get; set; }

    public Guid AccountId { get; set; }

    public DateTimeOffset At { get; set; }

    /// <summary><c>subscription</c>, <c>rental</c>, <c>purchase</c>.</summary>
    public required string Purpose { get; set; }

    public long Amount { get; set; }

    public required string Currency { get; set; }

    /// <summary>The client's address (public addresses only count for velocity).</summary>
    public string? Ip { get; set; }

    public string? IpCountry { get; set; }

    public string? CardFingerprint { get; set; }

    public string? CardCountry { get; set; }

    public string? AccountCountry { get; set; }

    public int AccountAttempts { get; set; }

    public int IpAttempts { get; set; }

    public int SmallCharges { get; set; }

    public int DistinctCards { get; set; }

    public double AccountAgeHours { get; set; }

    public bool DisposableEmail { get; set; }

    public int Score { get; set; }

    /// <summary>The model's probability of fraud when a model scored it.</summary>
    public double? ModelProbability { get; set; }

    public FraudDecision Decision { get; set; }

    /// <summary>Rule codes that fired, with their points and why: <c>code|points|text</c> lines.</summary>
    public required string Reasons { get; set; }

    public Guid? PaymentId { get; set; }

    public FraudLabel? Label { get; set; }

    public string? LabelledBy { get; set; }

    public DateTimeOffset? LabelledAt { get; set; }
}

/// <summary>A fraud model (ML.NET LightGBM) trained on the labelled assessments; the newest is the one used.</summary>
internal sealed class FraudModel
{
    public Guid Id { get; set; }

    public DateTimeOffset TrainedAt { get; set; }

    public int Labels { get; set; }

    public int Frauds { get; set; }

    public required byte[] Bytes { get; set; }
}

internal enum CouponDuration
{
    /// <summary>The first charge only.</summary>
    Once,

    /// <summary>The first <see cref="Coupon.Periods"/> charges.</summary>
    Repeating,

    Forever,
}

/// <summary>A discount: a percentage or an amount per currency, for one charge, N periods or forever; limited and expiring.</summary>
internal sealed class Coupon
{
    public Guid Id { get; set; }

    public required string Code { get; set; }

    public required string Name { get; set; }

    /// <summary>Percent off (0 to 100, two decimals); null when the coupon takes amounts off.</summary>
    public decimal? PercentOff { get; set; }

    public List<CouponAmount> AmountsOff { get; set; } = [];

    public CouponDuration Duration { get; set; }

    /// <summary>Charges a repeating coupon discounts.</summary>
    public int? Periods { get; set; }

    public int? MaxRedemptions { get; set; }

    public int? MaxPerAccount { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }

    /// <summary>Plan codes it applies to, comma-separated; empty: every plan.</summary>
    public string Plans { get; set; } = "";

    public bool Active { get; set; } = true;

    /// <summary>Redemptions so far (a concurrency token: two checkouts cannot both take the last one).</summary>
    public int Redeemed { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

internal sealed class CouponAmount
{
    public Guid CouponId { get; set; }

    public required string Currency { get; set; }

    public long Amount { get; set; }
}

/// <summary>A customer-facing code for a coupon (stored upper case; matched case-insensitively).</summary>
internal sealed class PromoCode
{
    public required string Code { get; set; }

    public Guid CouponId { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

internal sealed class CouponRedemption
{
    public Guid Id { get; set; }

    public Guid CouponId { get; set; }

    public Guid AccountId { get; set; }

    public Guid? SubscriptionId { get; set; }

    /// <summary>The first invoice it discounted (none when a trial comes first).</summary>
    public Guid? InvoiceId { get; set; }

    public string? PromoCode { get; set; }

    public DateTimeOffset At { get; set; }
}
