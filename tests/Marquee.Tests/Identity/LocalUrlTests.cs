using Marquee.Identity;

namespace Marquee.Tests.Identity;

/// <summary>Return addresses stay on this site (found by the R16 corpus: a tab made <c>/\t/evil</c> another host).</summary>
public sealed class LocalUrlTests
{
    [Theory]
    [InlineData("/account", "/account")]
    [InlineData("/title/sintel?lang=fr", "/title/sintel?lang=fr")]
    [InlineData("//evil.example/", "/")]
    [InlineData("/\\evil.example/", "/")]
    [InlineData("/\t/evil.example/", "/")]
    [InlineData("/\n/evil.example/", "/")]
    [InlineData("/ /evil.example/", "/")]
    [InlineData("javascript:alert(1)", "/")]
    [InlineData("https://evil.example/", "/")]
    [InlineData("", "/")]
    [InlineData(null, "/")]
    public void Or_WhenGivenAReturnAddress_KeepsOnlyPathsOnThisSite(string? url, string expected) =>
        Assert.Equal(expected, LocalUrl.Or(url, "/"));
}
