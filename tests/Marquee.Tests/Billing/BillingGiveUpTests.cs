using System.Net;
using System.Text.Json;
using Marquee.Billing;
using Marquee.Billing.Data;
using Marquee.Tests.Support;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Marquee.Tests.Billing;

/// <summary>
/// R8, the way out of a race: a request whose save keeps losing (here at once: <c>Marquee:Billing:RacePatience</c> 0) gives
/// up with 409 "Busy", stored as its key's answer, and its charge is refunded; nothing is half-written and no money is kept
/// without a subscription. (A 503 here, sent again with the same key, once met a used-up coupon and kept its charge.)
/// </summary>
public sealed class BillingGiveUpTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task Checkouts_WhoseSaveLosesTheRaceWithoutPatience_AnswerBusy_KeepNoCharge_AndASameKeyRetryGetsTheSameAnswer()
    {
        await using var app = await MarqueeApp.StartAsync(
            c =>
            {
                c["Marquee:Roles"] = "web";
                c["Marquee:Billing:Sandbox:WebhookSecret"] = BillingHost.Secret;
                c["Marquee:Billing:Fraud:Enabled"] = "false";
                c["Marquee:Billing:RacePatience"] = "00:00:00";
            },
            services =>
            {
                services.Configure<PasswordHasherOptions>(o => o.IterationCount = 1000);
                // The 40 checkouts meet after their charge (each has read the invoice counter by then), so that their saves
                // really race however the machine schedules them: all but one lose at least once.
                services.Replace(ServiceDescriptor.Singleton<IPaymentGateway>(sp => new MeetingGateway(sp.GetRequiredService<SandboxGateway>(), 40)));
            });
        await app.CreatePlanAsync("giveup", "Monthly", 999);
        var viewers = new List<(Guid Id, HttpClient Client)>();
        foreach (var batch in Enumerable.Range(0, 40).Chunk(10))
        {
            foreach (var (id, cookie) in await Task.WhenAll(batch.Select(_ => app.AccountWithRolesAsync())))
            {
                viewers.Add((id, app.ClientWith(cookie)));
            }
        }

        object Checkout() => new { plan = "giveup", currency = "EUR", card = SandboxGateway.Success, country = "DE" };
        var answers = await Task.WhenAll(viewers.Select(v => v.Client.PostKeyedAsync("/api/billing/checkout", Checkout(), "race")));
        var busy = new List<(Guid Id, HttpClient Client)>();
        for (var i = 0; i < answers.Length; i++)
        {
            var text = await answers[i].Content.ReadAsStringAsync();
            Assert.True(answers[i].StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, $"{(int)answers[i].StatusCode}: {text}");
            if (answers[i].StatusCode == HttpStatusCode.Conflict)
            {
                Assert.Equal("Busy", JsonDocument.Parse(text).RootElement.GetProperty("title").GetString());
                busy.Add(viewers[i]);
            }
        }

        var created = answers.Count(a => a.StatusCode == HttpStatusCode.Created);
        output.WriteLine($"40 concurrent checkouts without patience: {created} answered 201, {busy.Count} gave up (409 Busy)");
        // 40 writers of one invoice counter at once: some lose (the harness proves nothing otherwise).
        Assert.NotEmpty(busy);

        Task<T> InDbAsync<T>(Func<BillingDb, Task<T>> read) => app.ScopedAsync(sp => read(sp.GetRequiredService<BillingDb>()));
        var ids = viewers.Select(v => v.Id).ToList();
        var keys = ids.Select(a => $"checkout:{a:N}:race").ToList();
        Assert.Equal(created, await InDbAsync(db => db.Subscriptions.CountAsync(s => ids.Contains(s.AccountId) && s.Open && s.Status == SubscriptionStatus.Active)));
        Assert.Equal(created, await InDbAsync(db => db.Payments.CountAsync(p => ids.Contains(p.AccountId) && p.Status == PaymentStatus.Succeeded)));
        Assert.Equal(created, await InDbAsync(db => db.SandboxCharges.CountAsync(c => keys.Contains(c.IdempotencyKey) && c.Status == SandboxChargeStatus.Succeeded)));

        // The same key again: the stored answer (no second effect, the charge stays refunded); a new key: a fresh checkout.
        foreach (var (id, client) in busy)
        {
            var again = await client.PostKeyedAsync("/api/billing/checkout", Checkout(), "race");
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
            Assert.Equal("true", again.Headers.TryGetValues("Idempotent-Replayed", out var replayed) ? replayed.Single() : null);
            var charge = await InDbAsync(db => db.SandboxCharges.AsNoTracking().SingleOrDefaultAsync(c => c.IdempotencyKey == $"checkout:{id:N}:race"));
            Assert.True(charge is null || charge.Status == SandboxChargeStatus.Refunded, $"{charge?.Status}");
        }

        var (lastId, lastClient) = busy[0];
        await (await lastClient.PostKeyedAsync("/api/billing/checkout", Checkout(), "race-again")).JsonAsync(HttpStatusCode.Created);
        Assert.Equal(1, await InDbAsync(db => db.Subscriptions.CountAsync(s => s.AccountId == lastId && s.Open && s.Status == SubscriptionStatus.Active)));

        var report = await BillingModule.VerifyAsync(app.Services, CancellationToken.None);
        Assert.Empty(report.Problems);
    }

    /// <summary>The sandbox gateway, but the first <paramref name="parties"/> charges wait for one another (at most 20 s) before answering.</summary>
    private sealed class MeetingGateway(IPaymentGateway inner, int parties) : IPaymentGateway
    {
        private readonly TaskCompletionSource met = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int arrived;

        public async Task<GatewayCharge> ChargeAsync(string idempotencyKey, long amount, string currency, string method, bool onSession, CancellationToken cancellationToken)
        {
            var charge = await inner.ChargeAsync(idempotencyKey, amount, currency, method, onSession, cancellationToken);
            if (Interlocked.Increment(ref arrived) >= parties)
            {
                met.TrySetResult();
            }

            await Task.WhenAny(met.Task, Task.Delay(TimeSpan.FromSeconds(20), cancellationToken));
            return charge;
        }

        public Task<string?> TokenizeAsync(string card, CancellationToken cancellationToken) => inner.TokenizeAsync(card, cancellationToken);

        public Task<string?> TokenizeAsync(string card, string idempotencyKey, CancellationToken cancellationToken) => inner.TokenizeAsync(card, idempotencyKey, cancellationToken);

        public Task<GatewayCharge?> GetChargeAsync(string chargeId, CancellationToken cancellationToken) => inner.GetChargeAsync(chargeId, cancellationToken);

        public Task<GatewayCharge> RefundAsync(string chargeId, CancellationToken cancellationToken) => inner.RefundAsync(chargeId, cancellationToken);

        public Task<GatewayCharge> ChargeChallengedAsync(string idempotencyKey, long amount, string currency, string method, CancellationToken cancellationToken) =>
            inner.ChargeChallengedAsync(idempotencyKey, amount, currency, method, cancellationToken);

        public Task<CardFacts?> CardAsync(string method, CancellationToken cancellationToken) => inner.CardAsync(method, cancellationToken);
    }
}
