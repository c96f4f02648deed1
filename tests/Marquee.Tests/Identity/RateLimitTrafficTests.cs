using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Marquee.Identity;
using Marquee.Platform.Web;
using Marquee.Tests.Support;

namespace Marquee.Tests.Identity;

/// <summary>
/// R20: one client floods the sign-in endpoint from 127.0.0.1 far past the per-address limit (429 with Retry-After),
/// while a legitimate client signs in from another address (127.0.0.2, its socket bound there; the server sees it as
/// the remote address) and gets no error at all. The load-tool figures (hey) come from bench/rate-limit.sh.
/// </summary>
public sealed class RateLimitTrafficTests
{
    private const int Limit = 10;

    [Fact]
    public async Task SignIn_WhenFloodedFromOneAddress_AnotherAddressGetsNoError()
    {
        await using var app = await MarqueeApp.StartAsync(c => c["Marquee:Identity:RequestsPerMinutePerIp"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var email = $"legit-{Guid.NewGuid():N}@marquee.test";
        var password = Accounts.RandomPassword();
        await app.CreateAccountAsync(email, password, [Roles.Viewer]);
        using var flooder = new HttpClient(new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = 4 }) { BaseAddress = app.BaseAddress };
        using var legit = new HttpClient(new SocketsHttpHandler { UseCookies = false, ConnectCallback = From(IPAddress.Parse("127.0.0.2")) }) { BaseAddress = app.BaseAddress };
        legit.DefaultRequestHeaders.Add("Cookie", "__Host-marquee-device=marquee-tests");

        // The flood, 4 at a time, wrong passwords for an e-mail without an account: first past the limit, then
        // beside each request of the legitimate client (a bounded flood: the suite runs on two shared cores).
        var flood = new ConcurrentBag<(HttpStatusCode Status, bool RetryAfter, string? Type)>();
        Task FloodAsync(int requests) => Task.WhenAll(Enumerable.Range(0, requests).Select(async _ =>
        {
            using var r = await flooder.PostAsJsonAsync("/api/identity/signin", new { email = "nobody@marquee.test", password = "not the password at all" });
            flood.Add((r.StatusCode, r.Headers.RetryAfter is not null, r.Content.Headers.ContentType?.MediaType));
        }));
        await FloodAsync(2 * Limit);

        // The legitimate client, meanwhile: sign in and read its account, three times (password hashing is the costly part).
        var errors = new List<string>();
        var cookies = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var beside = FloodAsync(Limit);
            using var signIn = await legit.PostAsJsonAsync("/api/identity/signin", new { email, password });
            if (signIn.StatusCode != HttpStatusCode.NoContent)
            {
                errors.Add($"sign-in {i}: {(int)signIn.StatusCode}");
                await beside;
                continue;
            }

            var cookie = MarqueeApp.SessionCookie(signIn);
            cookies.Add(cookie);
            using var me = new HttpRequestMessage(HttpMethod.Get, "/api/identity/me");
            me.Headers.Add("Cookie", cookie);
            using var answer = await legit.SendAsync(me);
            if (answer.StatusCode != HttpStatusCode.OK)
            {
                errors.Add($"me {i}: {(int)answer.StatusCode}");
            }

            await beside;
        }

        // The same legitimate sign-in from the flooded address is refused: the flood does exhaust that address's
        // budget, so the 0 errors above are the per-address partition at work (the negative control).
        var sameAddress = FloodAsync(Limit);
        using var same = await flooder.PostAsJsonAsync("/api/identity/signin", new { email, password });
        await sameAddress;

        Assert.Empty(errors);
        var refused = flood.Where(f => f.Status == HttpStatusCode.TooManyRequests).ToList();
        // A fixed one-minute window: at most one new window starts during the test.
        Assert.True(refused.Count >= flood.Count - 2 * Limit, $"{refused.Count} of {flood.Count} flood requests refused (limit {Limit})");
        Assert.All(refused, f => Assert.True(f.RetryAfter && f.Type == "application/problem+json"));
        Assert.All(flood.Where(f => f.Status != HttpStatusCode.TooManyRequests), f => Assert.Equal(HttpStatusCode.Unauthorized, f.Status));

        Assert.Equal(HttpStatusCode.TooManyRequests, same.StatusCode);

        // The server saw the other address: the account's sessions list the address each signed in from.
        using var sessions = new HttpRequestMessage(HttpMethod.Get, "/api/identity/sessions");
        sessions.Headers.Add("Cookie", cookies[^1]);
        var list = await (await legit.SendAsync(sessions)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(3, list.GetArrayLength());
        Assert.All(list.EnumerateArray(), s => Assert.Equal("127.0.0.2", s.GetProperty("ip").GetString()));
    }

    /// <summary>Connects from <paramref name="local"/> (any 127.x address is this machine's loopback on Linux).</summary>
    private static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> From(IPAddress local) => async (context, ct) =>
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(local, 0));
            await socket.ConnectAsync(context.DnsEndPoint, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    };
}
