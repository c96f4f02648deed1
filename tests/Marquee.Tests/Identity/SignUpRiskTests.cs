using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Marquee.Tests.Identity;

/// <summary>Sign-up risk scoring: each signal with its reason, the challenge (a held code), the block, and the subnet throttle.</summary>
public sealed partial class SignUpRiskTests
{
    private const string Password = "correct horse battery staple";
    private const string BrowserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36";

    private static Task<MarqueeApp> StartAsync(FakeTimeProvider clock) => MarqueeApp.StartAsync(
        s =>
        {
            s["Marquee:Web:KnownProxies:0"] = "127.0.0.1"; // the tests are the proxy: X-Forwarded-For gives each request its address
            s["Marquee:Roles"] = "web";
        },
        services => services.AddSingleton<TimeProvider>(clock));

    private static FakeTimeProvider Clock() => new(TimeProvider.System.GetUtcNow());

    private static async Task<HttpResponseMessage> SignUpAsync(MarqueeApp app, string email, string ip, string? agent = BrowserAgent, bool language = true, string? formToken = null, string? device = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/identity/signup")
        {
            Content = JsonContent.Create(new { email, password = Password, acceptTerms = true, acceptPrivacy = true, formToken }),
        };
        request.Headers.Add("X-Forwarded-For", ip);
        if (agent is not null)
        {
            request.Headers.TryAddWithoutValidation("User-Agent", agent);
        }

        if (language)
        {
            request.Headers.Add("Accept-Language", "en-GB,en;q=0.9");
        }

        if (device is not null)
        {
            request.Headers.Add("X-Marquee-Device", device);
        }

        return await app.AnonymousClient.SendAsync(request);
    }

    private static async Task<JsonElement> DecisionOfAsync(MarqueeApp app, string email, string? outcome = null)
    {
        var decisions = await app.Client.GetFromJsonAsync<JsonElement>($"/api/identity/risk/decisions?take=1000{(outcome is null ? "" : "&outcome=" + outcome)}");
        return decisions.EnumerateArray().First(d => string.Equals(d.GetProperty("email").GetString(), email, StringComparison.OrdinalIgnoreCase));
    }

    private static string[] Reasons(JsonElement decision) => [.. decision.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()!)];

    [Fact]
    public async Task DisposableDomain_ScoresAboveTheChallengeThreshold_AndItsCodeWorksOnlyAfterTheDelay()
    {
        var clock = Clock();
        await using var app = await StartAsync(clock);
        var email = $"someone-{Guid.NewGuid():N}@mailinator.com";

        var answer = await SignUpAsync(app, email, "198.51.100.7");

        Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
        Assert.Contains("code-sent-held", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var decision = await DecisionOfAsync(app, email);
        Assert.Equal("Challenged", decision.GetProperty("outcome").GetString());
        Assert.True(decision.GetProperty("score").GetInt32() >= 50);
        Assert.Contains(Reasons(decision), r => r.StartsWith("disposable-email (+60): mailinator.com", StringComparison.Ordinal));

        var code = await SignUpAndSignInTests.CodeFromMailAsync(app, email);
        using var verifier = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = app.BaseAddress };
        Assert.Equal(HttpStatusCode.BadRequest, (await verifier.PostAsJsonAsync("/api/identity/signup/verify", new { email, code })).StatusCode);
        clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(HttpStatusCode.NoContent, (await verifier.PostAsJsonAsync("/api/identity/signup/verify", new { email, code })).StatusCode);
    }

    [Fact]
    public async Task HeadlessClient_ScoresAboveTheChallengeThreshold_WithItsReasons()
    {
        await using var app = await StartAsync(Clock());
        var email = $"bot-{Guid.NewGuid():N}@example.com";

        var answer = await SignUpAsync(app, email, "198.51.100.8", agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/142.0.0.0 Safari/537.36", language: false);

        Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
        var decision = await DecisionOfAsync(app, email);
        Assert.Equal("Challenged", decision.GetProperty("outcome").GetString());
        Assert.True(decision.GetProperty("score").GetInt32() >= 50);
        Assert.Contains(Reasons(decision), r => r.StartsWith("headless-client (+50): User-Agent names HeadlessChrome", StringComparison.Ordinal));
        Assert.Contains(Reasons(decision), r => r.StartsWith("headless-client (+10): no Accept-Language", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DisposableAndHeadless_IsBlockedWithAGenericAnswer_AndNoMail()
    {
        await using var app = await StartAsync(Clock());
        var email = $"bot-{Guid.NewGuid():N}@yopmail.com";

        var answer = await SignUpAsync(app, email, "198.51.100.9", agent: "python-requests/2.32", language: false);

        Assert.Equal(HttpStatusCode.Forbidden, answer.StatusCode);
        var body = await answer.Content.ReadAsStringAsync();
        Assert.Contains("could not accept this sign-up", body, StringComparison.Ordinal);
        Assert.DoesNotContain("disposable", body, StringComparison.OrdinalIgnoreCase);
        var decision = await DecisionOfAsync(app, email);
        Assert.Equal("Blocked", decision.GetProperty("outcome").GetString());
        var mail = Path.Combine(app.DataDir, "mail");
        Assert.False(Directory.Exists(mail) && Directory.GetFiles(mail).Any(f => File.ReadAllText(f).Contains(email, StringComparison.OrdinalIgnoreCase)));
    }

    [Fact]
    public async Task FormFilledTooFast_AndReusedDevice_AreScored()
    {
        var clock = Clock();
        await using var app = await StartAsync(clock);
        var page = await app.AnonymousClient.GetStringAsync("/signup");
        var token = WebUtility.HtmlDecode(FormTokenField().Match(page).Groups[1].Value);
        Assert.NotEmpty(token);

        var fast = $"fast-{Guid.NewGuid():N}@example.com";
        await SignUpAsync(app, fast, "198.51.100.10", formToken: token, device: "tv-1234");
        clock.Advance(TimeSpan.FromSeconds(20));
        var human = $"human-{Guid.NewGuid():N}@example.com";
        await SignUpAsync(app, human, "198.51.100.11", formToken: token, device: "tv-1234");
        var forged = $"forged-{Guid.NewGuid():N}@example.com";
        await SignUpAsync(app, forged, "198.51.100.12", formToken: "not-a-token");

        Assert.Contains(Reasons(await DecisionOfAsync(app, fast)), r => r.StartsWith("fast-form (+40)", StringComparison.Ordinal));
        var second = Reasons(await DecisionOfAsync(app, human));
        Assert.DoesNotContain(second, r => r.StartsWith("fast-form", StringComparison.Ordinal));
        Assert.Contains(second, r => r.StartsWith("reused-device (+25)", StringComparison.Ordinal));
        Assert.Contains(Reasons(await DecisionOfAsync(app, forged)), r => r.StartsWith("forged-form (+30)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AThousandSignUpsFromOneSubnetInAMinute_AreThrottledAndScored_OtherNetworksAreNot()
    {
        var clock = Clock(); // frozen: all thousand within one minute however slow the machine
        await using var app = await StartAsync(clock);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 1000; i++)
        {
            var response = await SignUpAsync(app, $"u{i}@example.com", $"203.0.113.{(i % 254) + 1}");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.Equal("60", response.Headers.RetryAfter?.ToString());
            }
        }

        Assert.Equal(30, statuses.Count(s => s == HttpStatusCode.Accepted));
        Assert.Equal(970, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        var decisions = (await app.Client.GetFromJsonAsync<JsonElement>("/api/identity/risk/decisions?take=1000")).EnumerateArray().ToList();
        Assert.Equal(1000, decisions.Count);
        Assert.All(decisions, d => Assert.Equal("203.0.113.0/24", d.GetProperty("subnet").GetString()));
        var throttled = decisions.Where(d => d.GetProperty("outcome").GetString() == "Throttled").ToList();
        Assert.Equal(970, throttled.Count);
        Assert.All(throttled, d =>
        {
            Assert.True(d.GetProperty("score").GetInt32() >= 50, d.ToString());
            Assert.Contains(Reasons(d), r => r.StartsWith("subnet-velocity (+50)", StringComparison.Ordinal));
            Assert.Contains(Reasons(d), r => r.StartsWith("throttled:", StringComparison.Ordinal));
        });

        // Someone on another network signs up as usual.
        var other = await SignUpAsync(app, "elsewhere@example.com", "192.0.2.44");
        Assert.Equal(HttpStatusCode.Accepted, other.StatusCode);
        // (Asked among the allowed ones: with the clock frozen, 1,001 decisions share one time and "the newest 1,000" may leave it out.)
        Assert.Equal("Allowed", (await DecisionOfAsync(app, "elsewhere@example.com", "Allowed")).GetProperty("outcome").GetString());

        // The console lists the decisions with their reasons.
        var console = await app.Client.GetStringAsync("/console/identity/risk?outcome=Throttled");
        Assert.Contains("subnet-velocity", console, StringComparison.Ordinal);
    }

    [GeneratedRegex("name=\"Input.FormToken\" value=\"([^\"]+)\"")]
    private static partial Regex FormTokenField();
}
