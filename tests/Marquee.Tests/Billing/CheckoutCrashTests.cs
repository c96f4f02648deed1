using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Marquee.Billing;
using Marquee.Platform.Web;
using Marquee.Tests.Support;
using Xunit.Abstractions;

namespace Marquee.Tests.Billing;

/// <summary>
/// R2: concurrent checkouts against the real <c>marquee serve</c>, each request sent twice at once with the same
/// Idempotency-Key, gateway webhooks replayed, and the server killed with SIGKILL ten times in the middle (each at a random moment after the restarted server answered again) and restarted; clients
/// retry with the same key until they have an answer, as a client should. Then: both copies of every request got the
/// same answer; every account answered "subscribed" has an active subscription; the sandbox gateway's own settlement
/// report reconciles with Marquee's payments without a single mismatch (a charge the customer paid twice, or paid
/// without a payment recorded, shows as Unknown); paid charges = subscriptions; <c>marquee billing verify</c> exits 0.
/// The negative control runs the same harness with <see cref="BillingOptions.UnsafeSkipIdempotency"/> (no idempotency
/// store, no key to the gateway) and must fail.
/// </summary>
[Trait("Category", "Resilience")]
[Collection("Media")] // a child server killed under load: not beside the heavy media tests
public sealed class CheckoutCrashTests(ITestOutputHelper output)
{
    private const string Secret = "whsec_r2_harness";

    [Fact]
    public async Task HundredCheckouts_DuplicatedReplayedAndKilledTenTimes_NoDoubleChargeNoMissingSubscription_LedgerBalanced()
    {
        var (violations, counts) = await RunAsync(checkouts: 100, broken: false, kills: 10);
        output.WriteLine($"R2: {counts}");
        Assert.True(violations.Count == 0, string.Join('\n', violations));
    }

    [Fact]
    public async Task NegativeControl_WithoutIdempotency_TheHarnessFails()
    {
        var (violations, counts) = await RunAsync(checkouts: 10, broken: true, kills: 0);
        output.WriteLine($"R2 negative control: {counts}; {violations.Count} violations, e.g.\n{string.Join('\n', violations.Take(5))}");
        Assert.NotEmpty(violations);
    }

    private sealed record Outcome(int Status, string Body);

    private async Task<(List<string> Violations, string Counts)> RunAsync(int checkouts, bool broken, int kills)
    {
        var clock = Stopwatch.StartNew();
        var killedAt = new List<int>();
        var violations0 = new List<string>();
        await using var storage = await TestStorage.CreateAsync();
        var cookies = new string[checkouts];
        var financePassword = Marquee.Identity.Accounts.RandomPassword();
        await using (var setup = await MarqueeApp.StartAsync(c => c["Marquee:Roles"] = "web", storage: storage))
        {
            await setup.CreatePlanAsync("r2", "Monthly", 999);
            await setup.CreateAccountAsync("r2-finance@marquee.test", financePassword, [Roles.Finance]);
            // Accounts made and signed in here (sessions outlive the host: the key ring is in the data folder).
            await Parallel.ForEachAsync(Enumerable.Range(0, checkouts), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, _) =>
            {
                var password = Marquee.Identity.Accounts.RandomPassword();
                await setup.CreateAccountAsync($"r2-{i}@marquee.test", password, [Roles.Viewer]);
                cookies[i] = await setup.SignInAsync($"r2-{i}@marquee.test", password);
            });
        }

        var environment = storage.Environment();
        environment["Marquee__Billing__Sandbox__WebhookSecret"] = Secret;
        environment["Marquee__Billing__SchedulerInterval"] = "00:00:01";
        environment["Marquee__Billing__UnsafeSkipIdempotency"] = broken ? "true" : "false";
        environment["Marquee__Identity__RequestsPerMinutePerIp"] = "100000";
        environment["Marquee__Identity__Risk__ChallengeThreshold"] = "900";
        environment["Marquee__Identity__Risk__BlockThreshold"] = "1000";
        environment["Marquee__Events__PollInterval"] = "00:00:00.200";
        var baseAddress = new Uri($"http://127.0.0.1:{MarqueeProcess.FreePort()}");
        string[] serve = ["serve", "--urls", baseAddress.ToString(), "--Marquee:Roles=web,worker"];
        using var handler = new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = 64 };
        using var http = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };

        MarqueeProcess? server = MarqueeProcess.Start(serve, environment);
        var phases = new List<string>();
        void Phase(string name) => phases.Add($"{name} {clock.Elapsed.TotalSeconds:F0} s");
        try
        {
            await server.WaitUntilReadyAsync(baseAddress, MarqueeProcess.ReadyTimeout);
            Phase("ready");
            var admin = await MarqueeProcess.SignInAsync(baseAddress, "r2-finance@marquee.test", financePassword);
            var setupTime = clock.Elapsed;

            // Every checkout twice at once (the same key and body), retried with that key until answered.
            // Only a bound on a hang: on a loaded 2-core CI machine the 11 server lives took 7 min (1.5 min on a quiet one).
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(15));
            var outcomes = new Outcome[checkouts, 2];
            var answered = 0;
            var attempts = 0;
            using var inFlight = new SemaphoreSlim(4);
            var retried = new ConcurrentDictionary<string, int>(); // why requests were sent again: 5xx answers, cut connections
            string Stuck() => $"retried: {string.Join("; ", retried.OrderByDescending(r => r.Value).Take(5).Select(r => $"{r.Value} x {r.Key}"))}\n--- server ---\n{server?.StandardOutput[^Math.Min(server.StandardOutput.Length, 4000)..]}{server?.StandardError}";
            var sends = Enumerable.Range(0, checkouts).SelectMany(i => new[] { 0, 1 }.Select(copy => Task.Run(async () =>
            {
                var card = i % 10 == 9 ? SandboxGateway.Declined : SandboxGateway.Success;
                var failures = 0;
                while (true)
                {
                    deadline.Token.ThrowIfCancellationRequested();
                    Interlocked.Increment(ref attempts);
                    try
                    {
                        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/billing/checkout")
                        {
                            Content = JsonContent.Create(new { plan = "r2", currency = "EUR", card, country = "DE" }),
                        };
                        request.Headers.Add("Idempotency-Key", $"r2-checkout-{i}");
                        request.Headers.Add("Cookie", cookies[i]);
                        // At most a few requests in flight, as from a handful of clients: the answers come over
                        // many server lives instead of all at once, so every kill lands in the middle of the work.
                        await inFlight.WaitAsync(deadline.Token);
                        HttpResponseMessage response;
                        string body;
                        try
                        {
                            response = await http.SendAsync(request, deadline.Token);
                            body = await response.Content.ReadAsStringAsync(deadline.Token);
                        }
                        finally
                        {
                            inFlight.Release();
                        }

                        using var answer = response;
                        if ((int)response.StatusCode < 500)
                        {
                            outcomes[i, copy] = new Outcome((int)response.StatusCode, body);
                            Interlocked.Increment(ref answered);
                            return;
                        }

                        retried.AddOrUpdate($"{(int)response.StatusCode} {body[..Math.Min(body.Length, 200)]}", 1, (_, n) => n + 1);
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException || (e is TaskCanceledException && !deadline.IsCancellationRequested))
                    {
                        // cut off by the kill, or the server is restarting: the same request again, with the same key
                        retried.AddOrUpdate(e.GetType().Name, 1, (_, n) => n + 1);
                    }

                    // Retry back-off, doubling up to 2 s (a client hammering a restarting server only burns its CPU).
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 250 << Math.Min(failures++, 3))), deadline.Token);
                }
            }))).ToList();

            // The first kill once a quarter of the requests are answered, while the webhooks of the charges so far are
            // replayed; then again and again, each time at a random moment after the restarted server has answered again.
            try
            {
                await Poll.UntilAsync(() => Task.FromResult(Volatile.Read(ref answered)), n => n >= checkouts / 2, TimeSpan.FromMinutes(6), "a quarter of the requests answered");
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"{e.Message}\n{Stuck()}", e);
            }

            var replayStatuses = new ConcurrentBag<int>();
            var replaying = Task.Run(async () =>
            {
                try
                {
                    await ReplayAsync(http, await SettlementAsync(http, admin), replayStatuses);
                }
                catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
                {
                    replayStatuses.Add(0); // the report itself was cut off by the kill
                }
            });
            var random = new Random(Environment.TickCount);
            for (var k = 0; k < kills; k++)
            {
                if (k > 0)
                {
                    var before = Volatile.Read(ref answered);
                    try
                    {
                        await Poll.UntilAsync(() => Task.FromResult(Volatile.Read(ref answered)), n => n > before || n == checkouts * 2, TimeSpan.FromMinutes(4), $"restart {k}: an answer");
                    }
                    catch (TimeoutException e)
                    {
                        throw new TimeoutException($"{e.Message}\n{Stuck()}", e);
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(random.Next(0, 300)), CancellationToken.None); // the kill's random moment, not a wait for work
                }

                await server.KillServerOnlyAsync();
                killedAt.Add(Volatile.Read(ref answered));
                if (k == 0)
                {
                    await replaying;
                }

                await server.DisposeAsync();
                server = MarqueeProcess.Start(serve, environment);
                await server.WaitUntilReadyAsync(baseAddress, MarqueeProcess.ReadyTimeout);
            }

            Phase($"{kills} kills");
            await replaying;
            try
            {
                await Task.WhenAll(sends);
            }
            catch (OperationCanceledException e) when (deadline.IsCancellationRequested)
            {
                throw new TimeoutException($"not every request answered in 15 min ({Volatile.Read(ref answered)} of {checkouts * 2}; {string.Join(", ", phases)})\n{Stuck()}", e);
            }
            if (kills > 0 && killedAt[^1] >= checkouts * 2)
            {
                violations0.Add($"the last kill came after every request was answered ({string.Join("/", killedAt)}): the harness did not kill in the middle");
            }

            Phase("all answered");

            // Every charge's webhook again (the same event ids as before, and each twice): one effect per event.
            var settlement = await SettlementAsync(http, admin);
            await ReplayAsync(http, settlement, replayStatuses);

            var violations = violations0;
            var subscribed = 0;
            for (var i = 0; i < checkouts; i++)
            {
                var (a, b) = (outcomes[i, 0], outcomes[i, 1]);
                if (a.Status != b.Status || PaymentOf(a) != PaymentOf(b))
                {
                    violations.Add($"checkout {i}: the same request with the same key was answered {a.Status} {PaymentOf(a)} and {b.Status} {PaymentOf(b)}");
                }

                var expected = i % 10 == 9 ? 402 : 201;
                if (a.Status != expected && b.Status != expected)
                {
                    violations.Add($"checkout {i}: answered {a.Status}/{b.Status}, expected {expected}: {a.Body}");
                }

                if (a.Status == 201 || b.Status == 201)
                {
                    subscribed++;
                    using var request = new HttpRequestMessage(HttpMethod.Get, "/api/billing/subscription");
                    request.Headers.Add("Cookie", cookies[i]);
                    using var response = await http.SendAsync(request);
                    var status = response.IsSuccessStatusCode ? (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString() : $"HTTP {(int)response.StatusCode}";
                    if (status != "Active")
                    {
                        violations.Add($"checkout {i}: paid, but its subscription is {status}");
                    }
                }
            }

            // The gateway's view: its settlement report reconciles with Marquee's payments, and paid charges = subscriptions.
            var charges = settlement.Count(l => l.Type == "charge");
            var refunds = settlement.Count(l => l.Type == "refund");
            var kept = charges - refunds;
            if (kept != subscribed)
            {
                violations.Add($"the gateway kept {kept} paid charges ({charges} charged, {refunds} refunded) for {subscribed} subscriptions: {(kept > subscribed ? "a customer was charged twice" : "a payment is missing")}");
            }

            var reconciliation = await ReconcileAsync(http, admin, settlement);
            violations.AddRange(reconciliation.GetProperty("mismatches").EnumerateArray().Select(m => $"reconciliation: {m.GetProperty("kind").GetString()} {m.GetProperty("chargeId").GetString()}: {m.GetProperty("detail").GetString()}"));

            Phase("checked");
            await server.DisposeAsync();
            server = null;
            var (code, stdout, stderr) = await MarqueeProcess.RunAsync(["billing", "verify"], environment, TimeSpan.FromSeconds(90));
            if (code != 0)
            {
                violations.Add($"marquee billing verify exited {code}: {stdout}{stderr}");
            }

            var counts = $"{checkouts} checkouts sent twice ({Volatile.Read(ref attempts)} requests with retries), {(kills > 0 ? $"server killed {kills} times, after {string.Join("/", killedAt)} answers" : "no kill")}; "
                + $"answers 201 {Count(outcomes, 201)}, 402 {Count(outcomes, 402)}, other {checkouts * 2 - Count(outcomes, 201) - Count(outcomes, 402)}; "
                + $"subscriptions {subscribed}; gateway charges {charges}, refunds {refunds}; reconciliation mismatches {reconciliation.GetProperty("mismatches").GetArrayLength()}; "
                + $"webhook replays {replayStatuses.Count} (200: {replayStatuses.Count(s => s == 200)}, 409 unknown charge: {replayStatuses.Count(s => s == 409)}, cut off: {replayStatuses.Count(s => s == 0)}); "
                + $"billing verify exit {code}; setup {setupTime.TotalSeconds:F0} s, {string.Join(", ", phases)}, all {clock.Elapsed.TotalSeconds:F0} s";
            output.WriteLine(stdout);
            return (violations, counts);
        }
        finally
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }

    private static int Count(Outcome[,] outcomes, int status) => outcomes.Cast<Outcome>().Count(o => o?.Status == status);

    private static string? PaymentOf(Outcome o)
    {
        using var doc = JsonDocument.Parse(o.Body);
        return doc.RootElement.TryGetProperty("paymentId", out var p) ? p.GetString() : doc.RootElement.TryGetProperty("title", out var t) ? t.GetString() : null;
    }

    private static async Task<List<SettlementLine>> SettlementAsync(HttpClient http, string admin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/billing/sandbox/settlement");
        request.Headers.Add("Cookie", admin);
        using var response = await http.SendAsync(request);
        var (lines, error) = Reconciler.Parse(await response.Content.ReadAsStringAsync());
        Assert.Null(error);
        return [.. lines];
    }

    private static async Task<JsonElement> ReconcileAsync(HttpClient http, string admin, IEnumerable<SettlementLine> lines)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/billing/reconciliations?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&fileName=r2.csv")
        {
            Content = new StringContent(Reconciler.Write(lines), Encoding.UTF8, "text/csv"),
        };
        request.Headers.Add("Cookie", admin);
        using var response = await http.SendAsync(request);
        return await response.JsonAsync(HttpStatusCode.Created);
    }

    /// <summary>Each charge's "succeeded" event, signed, sent twice at once with the same event id; 0 for a send cut off.</summary>
    private static async Task ReplayAsync(HttpClient http, IEnumerable<SettlementLine> lines, ConcurrentBag<int> statuses) =>
        await Parallel.ForEachAsync(lines.Where(l => l.Type == "charge").SelectMany(l => new[] { l, l }), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (line, _) =>
        {
            var body = JsonSerializer.Serialize(new { id = $"evt_r2_{line.ChargeId}", type = "charge.succeeded", created = DateTimeOffset.UnixEpoch.ToUnixTimeSeconds(), chargeId = line.ChargeId });
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/billing/webhooks/sandbox") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.TryAddWithoutValidation("Marquee-Signature", BillingHost.Sign(body, TimeProvider.System.GetUtcNow(), Secret));
            try
            {
                using var response = await http.SendAsync(request);
                statuses.Add((int)response.StatusCode);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
            {
                statuses.Add(0);
            }
        });
}
