using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Billing;
using Marquee.Billing.Data;
using Marquee.Platform.Web;
using Marquee.Tests.Rights;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Billing;

/// <summary>The fraud check through the real checkout API: card testing blocked, signals challenged, reviews as labels, the model once trained.</summary>
public sealed class FraudTests(BillingApp fixture) : IClassFixture<BillingApp>
{
    private MarqueeApp App => fixture.App;

    /// <summary>A sandbox card that succeeds, different for each <paramref name="n"/>: 424242, nine digits, a Luhn check digit.</summary>
    internal static string Card(int n)
    {
        var body = $"424242{n:D9}";
        for (var check = 0; check < 10; check++)
        {
            if (SandboxGateway.Luhn(body + check))
            {
                return body + check;
            }
        }

        throw new InvalidOperationException();
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client, string path, object body, string key, string? ip = null, string? country = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", key);
        if (ip is not null)
        {
            request.Headers.Add("X-Forwarded-For", ip);
        }

        if (country is not null)
        {
            request.Headers.Add("X-Marquee-Country", country);
        }

        return await client.SendAsync(request);
    }

    private Task<List<FraudAssessment>> AssessmentsAsync(Guid account) =>
        App.ScopedAsync(sp => sp.GetRequiredService<BillingDb>().FraudAssessments.AsNoTracking().Where(a => a.AccountId == account).OrderBy(a => a.At).ToListAsync());

    [Fact]
    public async Task ABurstOf20SmallChargesWithDifferentCards_OnOneAccount_IsBlocked()
    {
        var title = await App.CreateTitleAsync("Cheap film");
        (await App.Client.PutAsJsonAsync($"/api/billing/titles/{title}/offer", new { free = false, currency = "EUR", rentalPrice = 99 })).EnsureSuccessStatusCode();
        var viewer = await App.ViewerAsync();
        using var client = await viewer.ClientAsync();

        var statuses = new List<HttpStatusCode>();
        JsonElement last = default;
        for (var i = 0; i < 20; i++)
        {
            var response = await client.PostKeyedAsync($"/api/billing/titles/{title}/rent", new { card = Card(1000 + i), country = "DE" }, $"burst-{i}");
            statuses.Add(response.StatusCode);
            last = JsonSerializer.Deserialize<JsonElement>(await response.Content.ReadAsStringAsync());
        }

        // 118 EUR cents each (99 + 19 %): 1st and 2nd allowed; 3rd and 4th small charges + distinct cards (60) challenged;
        // from the 5th, the account's velocity too (95): blocked before any charge.
        Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Created, HttpStatusCode.Accepted, HttpStatusCode.Accepted], statuses.Take(4));
        Assert.All(statuses.Skip(4), s => Assert.Equal(HttpStatusCode.PaymentRequired, s));
        Assert.Equal("Payment refused", last.GetProperty("title").GetString());
        Assert.Contains("distinct cards", last.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var stored = await AssessmentsAsync(viewer.Id);
        Assert.Equal(20, stored.Count);
        Assert.Equal(16, stored.Count(a => a.Decision == FraudDecision.Block));
        var blocked = stored[^1];
        Assert.Equal(95, blocked.Score);
        Assert.Null(blocked.PaymentId);
        Assert.Equal([FraudScorer.AccountVelocity, FraudScorer.SmallChargeBurst, FraudScorer.ManyCards], FraudScorer.Parse(blocked.Reasons).Select(r => r.Code));
        Assert.NotNull(stored[2].PaymentId); // the challenged ones were charged with a 3-D Secure step
        var charges = await App.ScopedAsync(sp => sp.GetRequiredService<BillingDb>().Payments.CountAsync(p => p.AccountId == viewer.Id));
        Assert.Equal(4, charges);
    }

    [Fact]
    public async Task CountriesAndDisposableEmail_OverHttp_Challenge_TheQueueShowsIt_AndItsReviewBecomesALabel()
    {
        var plan = $"f{Guid.NewGuid():N}"[..12];
        await App.CreatePlanAsync(plan, "Monthly", 999);
        var email = $"buyer-{Guid.NewGuid():N}@mailinator.com";
        var password = Marquee.Identity.Accounts.RandomPassword();
        var account = await App.CreateAccountAsync(email, password, [Roles.Viewer]);
        using var client = App.ClientWith(await App.SignInAsync(email, password));

        // A card issued in BR (20), a client in US (15), a disposable domain (25), an account in DE: 60, a challenge.
        var response = await PostAsync(client, "/api/billing/checkout", new { plan, currency = "EUR", card = "4000000760000002", country = "DE" }, "c1", ip: "203.0.113.9", country: "US");
        var body = await response.JsonAsync(HttpStatusCode.Accepted);
        Assert.StartsWith("/billing/sandbox/3ds/", body.GetProperty("redirect").GetString(), StringComparison.Ordinal);

        var a = Assert.Single(await AssessmentsAsync(account));
        Assert.Equal((60, FraudDecision.Challenge, "203.0.113.9", "US", "BR"), (a.Score, a.Decision, a.Ip, a.IpCountry, a.CardCountry));
        Assert.Equal([FraudScorer.CardCountry, FraudScorer.IpCountry, FraudScorer.DisposableEmail], FraudScorer.Parse(a.Reasons).Select(r => r.Code));

        using var finance = await App.ClientWithRolesAsync("finance");
        var queue = await finance.GetFromJsonAsync<JsonElement>("/api/billing/fraud/queue");
        Assert.Contains(queue.EnumerateArray(), q => q.GetProperty("id").GetGuid() == a.Id && q.GetProperty("decision").GetString() == "challenge");
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsJsonAsync($"/api/billing/fraud/assessments/{a.Id}/label", new { label = "fraud" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await finance.PostAsJsonAsync($"/api/billing/fraud/assessments/{a.Id}/label", new { label = "maybe" })).StatusCode);

        var labelled = await (await finance.PostAsJsonAsync($"/api/billing/fraud/assessments/{a.Id}/label", new { label = "fraud" })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("fraud", labelled.GetProperty("label").GetString());
        var stored = Assert.Single(await AssessmentsAsync(account));
        Assert.Equal(FraudLabel.Fraud, stored.Label);
        Assert.NotNull(stored.LabelledBy);
        var reviewed = await finance.GetFromJsonAsync<JsonElement>("/api/billing/fraud/queue?reviewed=true");
        Assert.Contains(reviewed.EnumerateArray(), q => q.GetProperty("id").GetGuid() == a.Id);
        Assert.DoesNotContain((await finance.GetFromJsonAsync<JsonElement>("/api/billing/fraud/queue")).EnumerateArray(), q => q.GetProperty("id").GetGuid() == a.Id);

        var summary = await finance.GetFromJsonAsync<JsonElement>("/api/billing/fraud/summary");
        Assert.True(summary.GetProperty("labels").GetInt32() >= 1);
        var disposable = summary.GetProperty("metrics").EnumerateArray().Single(m => m.GetProperty("rule").GetString() == FraudScorer.DisposableEmail);
        Assert.True(disposable.GetProperty("truePositives").GetInt32() >= 1);

        var page = await finance.GetStringAsync("/console/billing/fraud");
        Assert.Contains(a.Id.ToString(), page, StringComparison.Ordinal);
        Assert.Contains("Precision", page, StringComparison.Ordinal);
    }
}

/// <summary>The model: rules until enough labels of both classes, then a LightGBM model trained on them scores the attempts.</summary>
public sealed class FraudModelTests(HlsStub package) : IClassFixture<HlsStub>
{
    [Fact]
    public async Task WithEnoughLabels_AModelIsTrained_AndScoresCheckouts()
    {
        await using var app = await BillingHost.StartAsync(package, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2027, 2, 1, 9, 0, 0, TimeSpan.Zero)), requireEntitlement: false);
        await app.CreatePlanAsync("basic", "Monthly", 999);
        using var finance = await app.ClientWithRolesAsync("finance");
        var before = await CheckoutAsync(app);
        Assert.Null(before.ModelProbability); // rules only

        await SeedAsync(app, 40); // below the minimum of 50: no model
        Assert.False((await (await finance.PostAsync("/api/billing/fraud/model", null)).JsonAsync(HttpStatusCode.OK)).GetProperty("trained").GetBoolean());
        await SeedAsync(app, 20);
        var trained = await (await finance.PostAsync("/api/billing/fraud/model", null)).JsonAsync(HttpStatusCode.OK);
        Assert.True(trained.GetProperty("trained").GetBoolean());
        Assert.Equal(60, trained.GetProperty("labels").GetInt32());
        Assert.False((await (await finance.PostAsync("/api/billing/fraud/model", null)).JsonAsync(HttpStatusCode.OK)).GetProperty("trained").GetBoolean()); // no new labels

        var after = await CheckoutAsync(app);
        Assert.NotNull(after.ModelProbability);
        Assert.True(after.ModelProbability < 0.5, $"an ordinary attempt scored {after.ModelProbability}");
        Assert.Equal(FraudDecision.Allow, after.Decision);
        Assert.Contains(FraudScorer.Parse(after.Reasons), r => r.Code == FraudScorer.Model);

        var summary = await finance.GetFromJsonAsync<JsonElement>("/api/billing/fraud/summary");
        var model = summary.GetProperty("metrics").EnumerateArray().Single(m => m.GetProperty("rule").GetString() == FraudScorer.Model);
        Assert.Equal(1.0, model.GetProperty("precision").GetDouble());
        Assert.Equal(1.0, model.GetProperty("recall").GetDouble());
        Assert.Equal(60, summary.GetProperty("modelLabels").GetInt32());
    }

    private static async Task<FraudAssessment> CheckoutAsync(MarqueeApp app)
    {
        var viewer = await app.ViewerAsync();
        using var c = await viewer.ClientAsync();
        await (await c.PostKeyedAsync("/api/billing/checkout", new { plan = "basic", currency = "EUR", card = SandboxGateway.Success, country = "DE" }, "k")).JsonAsync(HttpStatusCode.Created);
        return await app.ScopedAsync(sp => sp.GetRequiredService<BillingDb>().FraudAssessments.AsNoTracking().SingleAsync(a => a.AccountId == viewer.Id));
    }

    /// <summary>Labelled attempts: every other one card testing (many attempts, cards and small charges) labelled fraud, the rest ordinary and legitimate.</summary>
    private static Task<int> SeedAsync(MarqueeApp app, int count) => app.ScopedAsync(async sp =>
    {
        var db = sp.GetRequiredService<BillingDb>();
        var now = sp.GetRequiredService<TimeProvider>().GetUtcNow();
        for (var i = 0; i < count; i++)
        {
            var fraud = i % 2 == 0;
            db.FraudAssessments.Add(new FraudAssessment
            {
                Id = Guid.NewGuid(), AccountId = Guid.NewGuid(), At = now.AddDays(-1), Purpose = "rental", Currency = "EUR", Amount = fraud ? 118 + i : 1189 + i,
                AccountAttempts = fraud ? 6 + (i % 5) : 1, SmallCharges = fraud ? 5 + (i % 3) : 0, DistinctCards = fraud ? 4 + (i % 4) : 1, IpAttempts = fraud ? 3 : 1,
                AccountCountry = "DE", AccountAgeHours = fraud ? i % 3 : 500 + i, Score = 0, Decision = FraudDecision.Allow, Reasons = "",
                Label = fraud ? FraudLabel.Fraud : FraudLabel.Legitimate, LabelledBy = "test", LabelledAt = now,
            });
        }

        return await db.SaveChangesAsync();
    });
}
