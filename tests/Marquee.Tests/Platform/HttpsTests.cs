using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Marquee.Tests.Support;

namespace Marquee.Tests.Platform;

/// <summary>HTTPS with a configured certificate (standard Kestrel configuration).</summary>
[Trait("Category", "ProviderFree")] // nothing here depends on the database provider: the SQLite pass only
public sealed class HttpsTests
{
    [Fact]
    public async Task Serve_WhenCertificateConfigured_AnswersOverHttpsWithHsts()
    {
        var pfx = Path.Combine(Path.GetTempPath(), $"marquee-test-{Guid.NewGuid():N}.pfx");
        using (var rsa = RSA.Create(2048))
        {
            var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
            var now = TimeProvider.System.GetUtcNow();
            using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
            await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pfx, "test-password"));
        }

        await using var app = await MarqueeApp.StartAsync(configure: s =>
        {
            s["urls"] = null;
            s["Kestrel:Endpoints:Https:Url"] = "https://127.0.0.1:0";
            s["Kestrel:Endpoints:Https:Certificate:Path"] = pfx;
            s["Kestrel:Endpoints:Https:Certificate:Password"] = "test-password";
        });
        Assert.Equal("https", app.BaseAddress.Scheme);
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
        using var client = new HttpClient(handler) { BaseAddress = app.BaseAddress };

        var response = await client.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("max-age=", response.Headers.GetValues("Strict-Transport-Security").Single(), StringComparison.Ordinal);
        File.Delete(pfx);
    }
}
