using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Media.Contracts;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Marquee.Tests.Rights;

/// <summary>The real host with a stub package playable for every title, 127.0.0.1 as a trusted proxy (so the country header counts).</summary>
internal static class RightsHost
{
    public static Task<MarqueeApp> StartAsync(TestPackage package, FakeTimeProvider? time = null, Action<IDictionary<string, string?>>? configure = null, TestStorage? storage = null, Action<IServiceCollection>? services = null) =>
        MarqueeApp.StartAsync(
            c =>
            {
                c["Marquee:Web:KnownProxies:0"] = "127.0.0.1";
                if (time is not null)
                {
                    c["Marquee:Roles"] = "web"; // no workers waiting on a clock that only the test moves
                }

                configure?.Invoke(c);
            },
            s =>
            {
                s.AddSingleton<IMediaPackages>(new AnyTitle(package));
                if (time is not null)
                {
                    s.AddSingleton<TimeProvider>(time);
                }

                services?.Invoke(s);
            },
            storage: storage);

    public static async Task<Guid> CreateTitleAsync(this MarqueeApp app, string name = "Licensed film")
    {
        var response = await app.PostJsonAsync("/api/catalog/titles", new { name, kind = "Film" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    public static async Task<HttpResponseMessage> CreateLicenceAsync(this MarqueeApp app, object licence) =>
        await app.PostJsonAsync("/api/rights/licences", licence);

    public static async Task<Guid> LicenceAsync(this MarqueeApp app, object licence)
    {
        var response = await app.CreateLicenceAsync(licence);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        return JsonSerializer.Deserialize<JsonElement>(body).GetProperty("id").GetGuid();
    }

    /// <summary>Starts playback as the operator on this machine, from <paramref name="country"/> (the trusted header) when given.</summary>
    public static async Task<HttpResponseMessage> PlayAsync(this MarqueeApp app, Guid titleId, string? country = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/playback/sessions") { Content = JsonContent.Create(new { titleId }) };
        if (country is not null)
        {
            request.Headers.Add("X-Marquee-Country", country);
        }

        // A viewer signed in now: these tests move the clock by months, past any session cookie signed in before.
        using var viewer = await app.ClientWithRolesAsync();
        return await viewer.SendAsync(request);
    }

    public static async Task<string?> RefusalAsync(this HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString();
    }

    private sealed class AnyTitle(TestPackage package) : IMediaPackages
    {
        public Task<PackagedTitle?> FindPlayableAsync(Guid titleId, CancellationToken cancellationToken) =>
            Task.FromResult<PackagedTitle?>(package.Package with { TitleId = titleId });

        public Task<byte[]?> GetContentKeyAsync(Guid assetId, CancellationToken cancellationToken) =>
            Task.FromResult<byte[]?>(package.Key.ToArray());
    }
}
