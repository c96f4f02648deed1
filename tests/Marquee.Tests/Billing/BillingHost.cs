using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Marquee.Identity;
using Marquee.Platform.Web;
using Marquee.Tests.Rights;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Marquee.Tests.Billing;

/// <summary>The real host with billing configured: DE 19 %, FR 20 % tax, a known sandbox webhook secret, entitlements required.</summary>
internal static class BillingHost
{
    public const string Secret = "whsec_test_billing";

    public static Task<MarqueeApp> StartAsync(TestPackage package, FakeTimeProvider? time = null, bool requireEntitlement = true, Action<IDictionary<string, string?>>? configure = null, Action<IServiceCollection>? services = null, TestStorage? storage = null) =>
        RightsHost.StartAsync(package, time, c =>
        {
            c["Marquee:Billing:RequireEntitlement"] = requireEntitlement ? "true" : "false";
            c["Marquee:Billing:TaxRates:DE"] = "0.19";
            c["Marquee:Billing:TaxRates:FR"] = "0.20";
            c["Marquee:Billing:Sandbox:WebhookSecret"] = Secret;
            configure?.Invoke(c);
        }, storage: storage, services: services);

    public static async Task CreatePlanAsync(this MarqueeApp app, string code, string period, long eur, int trialDays = 0, int maxHeight = 1080, int streams = 2)
    {
        var response = await app.Client.PostAsJsonAsync("/api/billing/plans", new
        {
            code, name = $"Plan {code}", period, prices = new Dictionary<string, long> { ["EUR"] = eur, ["USD"] = eur + 100 }, trialDays, maxHeight, streams,
        });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }

    /// <summary>A viewer account with a known password (to sign in again after the clock moved).</summary>
    public static async Task<Viewer> ViewerAsync(this MarqueeApp app)
    {
        var email = $"subscriber-{Guid.NewGuid():N}@marquee.test";
        var password = Accounts.RandomPassword();
        var id = await app.CreateAccountAsync(email, password, [Roles.Viewer]);
        return new Viewer(app, id, email, password);
    }

    public static async Task<HttpResponseMessage> PostKeyedAsync(this HttpClient client, string path, object body, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", key);
        return await client.SendAsync(request);
    }

    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {body}");
        return JsonSerializer.Deserialize<JsonElement>(body);
    }

    public static async Task<HttpResponseMessage> WebhookAsync(this MarqueeApp app, string body, string signature)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/billing/webhooks/sandbox") { Content = content };
        request.Headers.TryAddWithoutValidation("Marquee-Signature", signature);
        return await app.AnonymousClient.SendAsync(request);
    }

    public static string Sign(string body, DateTimeOffset at, string secret = Secret)
    {
        var t = at.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var hmac = new System.Security.Cryptography.HMACSHA256(Encoding.UTF8.GetBytes(secret));
        return $"t={t},v1={Convert.ToHexStringLower(hmac.ComputeHash(Encoding.UTF8.GetBytes($"{t}.{body}")))}";
    }
}

internal sealed record Viewer(MarqueeApp App, Guid Id, string Email, string Password)
{
    /// <summary>A client signed in now (sessions signed in before the clock moved months have expired).</summary>
    public async Task<HttpClient> ClientAsync() => App.ClientWith(await App.SignInAsync(Email, Password));

    public async Task<HttpResponseMessage> PlayAsync(Guid titleId)
    {
        using var client = await ClientAsync();
        return await client.PostAsJsonAsync("/api/playback/sessions", new { titleId });
    }
}
