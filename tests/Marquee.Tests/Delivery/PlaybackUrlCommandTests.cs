using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Cli;
using Marquee.Delivery;
using Marquee.Delivery.Data;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Delivery;

/// <summary><c>marquee playback-url TITLE_ID [--ttl 10m]</c>: a signed URL for an operator's player, audited.</summary>
public sealed class PlaybackUrlCommandTests(HlsStub package) : IClassFixture<HlsStub>
{
    [Fact]
    public async Task IssueOperatorUrl_WhenTitlePlayable_GivesAnAbsoluteUrlThatPlaysAndIsAudited()
    {
        await using var app = await PlaybackHost.StartAsync(package);

        var (url, problem) = await DeliveryModule.IssueOperatorUrlAsync(app.Services, package.TitleId, TimeSpan.FromMinutes(10), app.BaseAddress, "tester@host (cli)", CancellationToken.None);

        Assert.Null(problem);
        Assert.NotNull(url);
        Assert.StartsWith(app.BaseAddress.ToString().TrimEnd('/') + "/api/playback/s/", url.ToString(), StringComparison.Ordinal);
        Assert.EndsWith("/master.m3u8", url.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync(url)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync(new Uri(url, "key"))).StatusCode);
        var timeout = await app.ScopedAsync(async sp => (await sp.GetRequiredService<DeliveryDb>().Sessions.SingleAsync()).HeartbeatTimeoutSeconds);
        Assert.Equal(600, timeout);
        var audit = await app.Client.GetFromJsonAsync<JsonElement[]>("/api/compliance/audit?action=delivery.playback-url-issued");
        var line = Assert.Single(audit!);
        Assert.Equal($"title:{package.TitleId}", line.GetProperty("target").GetString());
        Assert.Equal("tester@host (cli)", line.GetProperty("actor").GetString());
    }

    [Fact]
    public async Task PlaybackUrl_WhenTitleHasNoPackage_ExitsFailed()
    {
        await using var storage = await TestStorage.CreateAsync();
        var settings = storage.Settings().Where(kv => kv.Value is not null).Select(kv => $"--{kv.Key}={kv.Value}").ToList();
        Assert.Equal(MarqueeCommandLine.Ok, await MarqueeCommandLine.RunAsync(["db", "migrate", .. settings]));
        var args = new List<string> { "playback-url", Guid.NewGuid().ToString(), "--ttl", "5m" };
        args.AddRange(settings);

        Assert.Equal(MarqueeCommandLine.Failed, await MarqueeCommandLine.RunAsync([.. args]));
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("-5m")]
    [InlineData("90d")]
    public async Task PlaybackUrl_WhenTtlNotADuration_ExitsWithBadConfiguration(string ttl)
    {
        Assert.Equal(MarqueeCommandLine.BadConfiguration, await MarqueeCommandLine.RunAsync(["playback-url", Guid.NewGuid().ToString(), "--ttl", ttl]));
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("10m", 600)]
    [InlineData("2h", 7200)]
    [InlineData("1d", 86400)]
    [InlineData("00:10:00", 600)]
    public void ParseDuration_WhenWrittenShort_IsRead(string text, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), MarqueeCommandLine.ParseDuration(text));
    }

    [Theory]
    [InlineData(null, null, "http://localhost:5080/")]
    [InlineData(null, "http://*:8080;https://*:8443", "http://localhost:8080/")]
    [InlineData(null, "http://0.0.0.0:9000", "http://localhost:9000/")]
    [InlineData("https://tv.example.org", "http://*:8080", "https://tv.example.org/")]
    public void PublicBase_WhenConfigured_PrefersPublicBaseUrlThenFirstUrl(string? publicBase, string? urls, string expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Marquee:PublicBaseUrl"] = publicBase,
            ["urls"] = urls,
        }).Build();

        Assert.Equal(expected, MarqueeCommandLine.PublicBase(configuration).ToString());
    }
}
