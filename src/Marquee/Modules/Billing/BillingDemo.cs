using System.Security.Cryptography;
using System.Text;
using Marquee.Billing.Data;
using Marquee.Catalog.Contracts;
using Marquee.Platform.Hosting;
using Marquee.Platform.Web;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Billing;

/// <summary>
/// For <c>marquee demo</c>: plans (Free with ads 720p one screen, Basic 720p one screen, Standard 1080p two screens, Premium 2160p four screens, monthly,
/// and Standard and Premium yearly), offers on the demo films (one free, others for rent or purchase), and with the
/// sandbox gateway a few billing-only demo customers (<c>@customers.demo.marquee.test</c>, no sign-in) who subscribed and
/// rented weeks ago through the real checkout, so that the console's lists and revenue figures show something: the
/// worker then renews what is due (one renewal fails into dunning, one subscription was cancelled at period end).
/// Idempotent: what exists is left alone.
/// </summary>
internal sealed class BillingDemo(BillingDb db, Offers offers, IPaymentGateway gateway, IOptions<BillingOptions> options, ICatalog catalog, IFraudSignalSource fraudSignals, FraudModels fraudModels, TvodLicensing licensing, TimeProvider time) : IDemoContent
{
    public const string CustomerDomain = "customers.demo.marquee.test";

    private static readonly NewPlan[] Plans =
    [
        new("free", "Free with ads", BillingPeriod.Monthly, new() { ["EUR"] = 0, ["USD"] = 0 }, 0, 720, 1, WithAds: true),
        new("basic", "Basic", BillingPeriod.Monthly, new() { ["EUR"] = 799, ["USD"] = 899 }, 0, 720, 1),
        new("standard", "Standard", BillingPeriod.Monthly, new() { ["EUR"] = 1299, ["USD"] = 1399 }, 7, 1080, 2),
        new("premium", "Premium", BillingPeriod.Monthly, new() { ["EUR"] = 1799, ["USD"] = 1999 }, 0, 2160, 4),
        new("standard-yearly", "Standard (yearly)", BillingPeriod.Yearly, new() { ["EUR"] = 12990, ["USD"] = 13990 }, 0, 1080, 2),
        new("premium-yearly", "Premium (yearly)", BillingPeriod.Yearly, new() { ["EUR"] = 17990, ["USD"] = 19990 }, 0, 2160, 4),
    ];

    /// <summary>Who, which plan and currency, how many days ago, and what happened next.</summary>
    private static readonly (string Name, string Plan, string Currency, string Country, int DaysAgo, string Then)[] Customers =
    [
        ("anna", "basic", "EUR", "DE", 95, "buy"),
        ("ben", "standard", "EUR", "FR", 70, "rent"),
        ("chloe", "premium", "USD", "US", 50, ""),
        ("david", "standard-yearly", "EUR", "DE", 40, ""),
        ("emma", "basic", "EUR", "FR", 50, "cancel"),
        ("farid", "basic", "EUR", "DE", 40, "card-fails"),
        ("gina", "premium", "EUR", "DE", 10, ""),
        ("hugo", "basic", "USD", "US", 20, "rent"),
        ("ines", "free", "EUR", "DE", 45, ""),
    ];

    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        foreach (var plan in Plans)
        {
            if (await offers.FindAsync(plan.Code, cancellationToken) is null)
            {
                await offers.CreateAsync(plan, RequestActor.System, cancellationToken);
            }
        }

        var films = (await catalog.NewestAsync(200, cancellationToken)).Where(t => t.Kind == TitleKind.Film).OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        var offered = await db.TitleOffers.Select(o => o.TitleId).ToListAsync(cancellationToken);
        var priced = new (bool Free, long? Rent, long? Buy)[] { (true, null, null), (false, 299, 999), (false, 399, 1299), (false, 399, null) };
        for (var i = 0; i < films.Count && i < priced.Length; i++)
        {
            if (!offered.Contains(films[i].Id))
            {
                await offers.SetOfferAsync(films[i].Id, new TitleOfferInput(priced[i].Free, "EUR", priced[i].Rent, priced[i].Buy), RequestActor.System, cancellationToken);
            }
        }

        if (gateway is not SandboxGateway)
        {
            return; // demo customers pay with the sandbox's test cards only
        }

        var forSale = films.Skip(1).Take(2).ToList();
        foreach (var c in Customers)
        {
            var account = AccountOf(c.Name);
            if (await db.Customers.AnyAsync(x => x.AccountId == account, cancellationToken))
            {
                continue;
            }

            var clock = new DemoClock(time.GetUtcNow().AddDays(-c.DaysAgo));
            // The demo's history is seeded, not attempted: its payments are not scored (the fraud check is off for them).
            var unscored = Options.Create(new BillingOptions { Fraud = new FraudOptions { Enabled = false } });
            var checkouts = new Checkouts(db, new Books(db, options, clock), gateway, new FraudCheck(db, fraudSignals, fraudModels, unscored, clock), new Coupons(db, clock), licensing, clock);
            var email = $"{c.Name}@{CustomerDomain}";
            await checkouts.CheckoutAsync(account, email, new CheckoutInput(c.Plan, c.Currency, SandboxGateway.Success, c.Country), $"demo-{c.Name}", cancellationToken);
            await db.SaveChangesAsync(cancellationToken);
            clock.Now = clock.Now.AddDays(3);
            switch (c.Then)
            {
                case "cancel":
                    await checkouts.CancelAsync(account, true, cancellationToken);
                    break;
                case "card-fails":
                    await checkouts.UpdateCardAsync(account, new CardInput(SandboxGateway.InsufficientFunds), $"demo-card-{c.Name}", cancellationToken);
                    break;
                case "rent" or "buy" when forSale.Count > 0:
                    var title = forSale[c.Name.Length % forSale.Count].Id;
                    await checkouts.BuyTitleAsync(account, email, title, c.Then == "rent" ? GrantKind.Rental : GrantKind.Purchase,
                        new TitlePurchaseInput(SandboxGateway.Success, c.Country), $"demo-{c.Then}-{c.Name}", c.Country, cancellationToken);
                    break;
            }

            await db.SaveChangesAsync(cancellationToken);
        }
    }

    /// <summary>A demo customer's (made-up, stable) account id.</summary>
    public static Guid AccountOf(string name) => new(SHA256.HashData(Encoding.UTF8.GetBytes($"marquee-demo-customer:{name}"))[..16]);

    /// <summary>The clock of a demo customer's past.</summary>
    private sealed class DemoClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
