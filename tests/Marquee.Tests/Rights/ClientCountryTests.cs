using System.Net;
using Marquee.Platform.Web;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Rights;

/// <summary>The IP-to-country database the build installs from npm, read through the platform's <see cref="IClientCountry"/>.</summary>
public sealed class ClientCountryTests
{
    [Fact]
    public async Task Lookup_PublicAddresses_AnswersTheirCountryFromTheInstalledDatabase()
    {
        await using var app = await MarqueeApp.StartAsync();
        var countries = app.Services.GetRequiredService<IClientCountry>();

        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "geoip", "geo-whois-asn-country.mmdb")), "the build copies the database beside the program");
        Assert.Equal("US", countries.Lookup(IPAddress.Parse("8.8.8.8")));
        Assert.Equal("US", countries.Lookup(IPAddress.Parse("2001:4860:4860::8888")));
        Assert.Equal("US", countries.Lookup(IPAddress.Parse("::ffff:8.8.8.8")));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("10.1.2.3")]
    [InlineData("172.20.0.1")]
    [InlineData("192.168.1.10")]
    [InlineData("fd00::1")]
    [InlineData("fe80::1")]
    public async Task Lookup_LoopbackAndPrivateAddresses_HaveNoCountry(string address)
    {
        await using var app = await MarqueeApp.StartAsync();

        Assert.Null(app.Services.GetRequiredService<IClientCountry>().Lookup(IPAddress.Parse(address)));
    }
}
