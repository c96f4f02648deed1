using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Marquee.Platform.Web;
using Marquee.Tests.Support;
using Microsoft.Extensions.Options;

namespace Marquee.Tests.Platform;

/// <summary>
/// R15, the SSRF guard of outbound requests (<see cref="OutboundHttp"/>): refusals happen in the connect callback, before
/// any packet goes to the address, so no test here sends anything anywhere but to its own canary on 127.0.0.1. Names
/// resolve through a test resolver (never real DNS).
/// </summary>
[Trait("Category", "ProviderFree")] // nothing here depends on the database provider: the SQLite pass only
public sealed partial class OutboundGuardTests
{
    [Theory]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("127.8.9.10", "loopback")]
    [InlineData("169.254.169.254", "link-local")]
    [InlineData("10.1.2.3", "private")]
    [InlineData("172.16.0.1", "private")]
    [InlineData("172.31.255.254", "private")]
    [InlineData("192.168.1.1", "private")]
    [InlineData("100.64.0.1", "CGNAT")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("0.0.0.0", "this network")]
    [InlineData("255.255.255.255", "broadcast")]
    [InlineData("::1", "loopback")]
    [InlineData("::", "unspecified")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("fd12:3456::1", "private")]
    [InlineData("ff02::1", "multicast")]
    [InlineData("::ffff:127.0.0.1", "IPv4-mapped")]
    [InlineData("::ffff:169.254.169.254", "IPv4-mapped")]
    [InlineData("64:ff9b::a9fe:a9fe", "NAT64")]
    [InlineData("2002:c0a8:0101::1", "6to4")]
    public void Refusal_WhenAddressIsReserved_SaysWhich(string address, string expected)
    {
        var reason = OutboundHttp.Refusal(IPAddress.Parse(address));

        Assert.NotNull(reason);
        Assert.Contains(expected, reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("93.184.216.34")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("2606:4700::1111")]
    [InlineData("::ffff:93.184.216.34")]
    public void Refusal_WhenAddressIsPublic_IsNone(string address) =>
        Assert.Null(OutboundHttp.Refusal(IPAddress.Parse(address)));

    [Fact]
    public async Task Request_WhenToALoopbackAddress_IsRefusedBeforeConnecting()
    {
        await using var canary = Canary.Start();
        using var client = Guard(ports: [canary.Port]).CreateClient();

        var refused = await RefusedAsync(client, $"http://127.0.0.1:{canary.Port}/secret");

        Assert.Contains("127.0.0.1", refused.Message, StringComparison.Ordinal);
        Assert.Contains("loopback", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Marquee:Outbound:AllowedHosts", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, canary.Hits);
    }

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://[::ffff:169.254.169.254]/latest/meta-data/")]
    [InlineData("http://[fd00:ec2::254]/latest/meta-data/")]
    [InlineData("http://2130706433/")] // 127.0.0.1 written as one decimal number
    [InlineData("http://0x7f.1/")] // and in hex
    public async Task Request_WhenToAMetadataOrDisguisedAddress_IsRefusedBeforeConnecting(string url)
    {
        using var client = Guard().CreateClient();

        var refused = await RefusedAsync(client, url);

        Assert.Contains("refused", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("intranet.test", "10.0.0.5")]
    [InlineData("metadata.test", "169.254.169.254")]
    [InlineData("mixed.test", "127.0.0.1")] // one public and one loopback answer: refused as a whole
    public async Task Request_WhenNameResolvesToAReservedAddress_IsRefused(string name, string refusedAddress)
    {
        using var client = Guard().CreateClient();

        var refused = await RefusedAsync(client, $"https://{name}/.well-known/openid-configuration");

        Assert.Contains($"resolves to {refusedAddress}", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_WhenPortIsNotAllowed_IsRefused()
    {
        using var client = Guard().CreateClient();

        var refused = await RefusedAsync(client, "http://public.test:6379/");

        Assert.Contains("port 6379", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_WhenAllowListedLocalFake_IsReached_AndItsRedirectToAnotherLoopbackAddressIsRefused()
    {
        await using var canary = Canary.Start();
        // The canary's port is allowed, so that what refuses the redirect below is the address, not the port.
        using var client = Guard(allowed: [$"fake-idp.test:{canary.Port}"], ports: [canary.Port]).CreateClient();

        var ok = await client.GetAsync(new Uri($"http://fake-idp.test:{canary.Port}/ok"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(1, canary.HitsOn("/ok"));

        // The allow-listed fake redirects to the same listener by its address: the redirect's connection is checked too.
        var refused = await RefusedAsync(client, $"http://fake-idp.test:{canary.Port}/redirect?to=http://127.0.0.1:{canary.Port}/secret");
        Assert.Contains("loopback", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, canary.HitsOn("/redirect"));
        Assert.Equal(0, canary.HitsOn("/secret"));
    }

    [Fact]
    public async Task NegativeControl_WhenTheGuardIsLeftOut_TheSameRequestsReachTheCanary()
    {
        await using var canary = Canary.Start();
        using var plain = new HttpClient(new SocketsHttpHandler { UseProxy = false });

        Assert.Equal(HttpStatusCode.OK, (await plain.GetAsync(new Uri($"http://127.0.0.1:{canary.Port}/secret"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await plain.GetAsync(new Uri($"http://127.0.0.1:{canary.Port}/redirect?to=http://127.0.0.1:{canary.Port}/secret"))).StatusCode);
        Assert.Equal(2, canary.HitsOn("/secret"));
    }

    [Fact]
    public async Task ExternalSignIn_WhenTheProviderIsOnLoopbackAndNotAllowListed_NeverReachesIt()
    {
        await using var canary = Canary.Start();
        await using var site = await MarqueeApp.StartAsync(s =>
        {
            s["Marquee:Identity:External:Upstream:Authority"] = $"http://127.0.0.1:{canary.Port}/";
            s["Marquee:Identity:External:Upstream:ClientId"] = "marquee-site";
            s["Marquee:Identity:External:Upstream:AllowHttp"] = "true";
            s["Marquee:Outbound:AllowedPorts:0"] = canary.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        });
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false });

        var page = await http.GetAsync(new Uri(site.BaseAddress, "/signin"));
        var cookies = string.Join("; ", page.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]));
        var token = WebUtility.HtmlDecode(AntiforgeryField().Match(await page.Content.ReadAsStringAsync()).Groups[1].Value);
        using var post = new HttpRequestMessage(HttpMethod.Post, new Uri(site.BaseAddress, "/signin/external/Upstream"))
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["returnUrl"] = "/account", ["__RequestVerificationToken"] = token }),
        };
        post.Headers.Add("Cookie", cookies);
        var response = await http.SendAsync(post);

        // The provider's metadata could not be read: back to the sign-in page, which says the provider cannot be reached.
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Contains("external=unavailable", response.Headers.Location?.OriginalString, StringComparison.Ordinal);
        Assert.Equal(0, canary.Hits);
    }

    private static OutboundHttp Guard(string[]? allowed = null, int[]? ports = null)
    {
        var options = new OutboundOptions { AllowedHosts = [.. allowed ?? []] };
        options.AllowedPorts.AddRange(ports ?? []);
        return new OutboundHttp(Options.Create(options)) { Resolve = ResolveAsync };
    }

    /// <summary>A test resolver: no real DNS.</summary>
    private static Task<IPAddress[]> ResolveAsync(string name, CancellationToken cancellationToken) => Task.FromResult<IPAddress[]>(name switch
    {
        "intranet.test" => [IPAddress.Parse("10.0.0.5")],
        "metadata.test" => [IPAddress.Parse("169.254.169.254")],
        "mixed.test" => [IPAddress.Parse("93.184.216.34"), IPAddress.Parse("127.0.0.1")],
        "public.test" => [IPAddress.Parse("93.184.216.34")],
        "fake-idp.test" => [IPAddress.Loopback],
        _ => Array.Empty<IPAddress>(),
    });

    private static async Task<OutboundRefusedException> RefusedAsync(HttpClient client, string url)
    {
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri(url)));
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is OutboundRefusedException refused)
            {
                return refused;
            }
        }

        throw new Xunit.Sdk.XunitException($"not refused by the guard: {e}");
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();

    /// <summary>An HTTP listener on 127.0.0.1 that counts requests by path; <c>/redirect?to=URL</c> answers 302 to URL.</summary>
    private sealed class Canary : IAsyncDisposable
    {
        private readonly TcpListener listener = new(IPAddress.Loopback, 0);
        private readonly ConcurrentQueue<string> paths = new();
        private readonly CancellationTokenSource stop = new();
        private Task loop = Task.CompletedTask;

        public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

        public int Hits => paths.Count;

        public int HitsOn(string path) => paths.Count(p => p == path);

        public static Canary Start()
        {
            var canary = new Canary();
            canary.listener.Start();
            canary.loop = canary.AcceptAsync();
            return canary;
        }

        private async Task AcceptAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await listener.AcceptTcpClientAsync(stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                _ = ServeAsync(client);
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            using (client)
            {
                var stream = client.GetStream();
                var buffer = new byte[8192];
                var read = 0;
                while (read < buffer.Length)
                {
                    var n = await stream.ReadAsync(buffer.AsMemory(read), stop.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    read += n;
                    if (Encoding.ASCII.GetString(buffer, 0, read).Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        break;
                    }
                }

                var target = Encoding.ASCII.GetString(buffer, 0, read).Split(' ', 3)[1];
                var path = target.Split('?')[0];
                paths.Enqueue(path);
                var to = path == "/redirect" ? Uri.UnescapeDataString(target[(target.IndexOf("?to=", StringComparison.Ordinal) + 4)..]) : null;
                var answer = to is null
                    ? "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                    : $"HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(answer), stop.Token);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            listener.Stop();
            await loop;
            stop.Dispose();
        }
    }
}
