using System.Net;
using Marquee.Platform.Web;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Rights;

/// <summary>The IP-to-country database the build installs from npm, read through the platform's <see cref="IClientCountry"/>.</summary>
public sealed class ClientCountryTests(SharedApp shared) : IClassFixture<SharedApp>
{
    [Fact]
    public void Lookup_PublicAddresses_AnswersTheirCountryFromTheInstalledDatabase()
    {
        var app = shared.App;
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
    public void Lookup_LoopbackAndPrivateAddresses_HaveNoCountry(string address)
    {
        var app = shared.App;

        Assert.Null(app.Services.GetRequiredService<IClientCountry>().Lookup(IPAddress.Parse(address)));
    }
}
