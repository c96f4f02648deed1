using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Marquee.Tests.Support;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Platform;

/// <summary>The Data Protection key ring (which protects cookies and every content key) is encrypted at rest when a certificate is configured.</summary>
[Trait("Category", "ProviderFree")] // nothing here depends on the database provider: the SQLite pass only
public sealed class KeyRingTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("marquee-keyring-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private string MakeCertificate(string name, string? password)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture),
            DateTimeOffset.Parse("2036-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var path = Path.Combine(folder, name + ".pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx, password));
        return path;
    }

    private static string KeyRingText(string dataDir) =>
        string.Concat(Directory.GetFiles(Path.Combine(dataDir, "keys"), "key-*.xml").Select(File.ReadAllText));

    private static string Protect(MarqueeApp app, string text) =>
        app.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("keyring-test").Protect(text);

    private static string Unprotect(MarqueeApp app, string text) =>
        app.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("keyring-test").Unprotect(text);

    [Fact]
    public async Task KeyRing_WithCertificate_IsWrittenEncryptedAndReadableOnlyWithIt()
    {
        var pfx = MakeCertificate("keyring", "s3cret");
        await using var storage = await TestStorage.CreateAsync();
        void WithCertificate(IDictionary<string, string?> s)
        {
            s["Marquee:KeyRing:CertificatePath"] = pfx;
            s["Marquee:KeyRing:CertificatePassword"] = "s3cret";
        }

        string secret;
        await using (var first = await MarqueeApp.StartAsync(WithCertificate, storage: storage))
        {
            secret = Protect(first, "content key");
        }

        var xml = KeyRingText(storage.DataDir);
        Assert.Contains("encryptedSecret", xml, StringComparison.Ordinal);
        Assert.DoesNotContain("<value>", xml, StringComparison.Ordinal);

        await using (var again = await MarqueeApp.StartAsync(WithCertificate, storage: storage))
        {
            Assert.Equal("content key", Unprotect(again, secret));
        }

        // The data folder alone (no certificate) does not reveal the keys.
        await using var without = await MarqueeApp.StartAsync(storage: storage);
        Assert.ThrowsAny<CryptographicException>(() => Unprotect(without, secret));
    }

    [Fact]
    public async Task KeyRing_WithoutCertificate_IsStoredInClear()
    {
        await using var app = await MarqueeApp.StartAsync();
        _ = Protect(app, "content key");

        var xml = KeyRingText(app.DataDir);
        Assert.Contains("<value>", xml, StringComparison.Ordinal);
        Assert.DoesNotContain("encryptedSecret", xml, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyRing_RotatedCertificate_KeepsOlderKeysReadable()
    {
        var old = MakeCertificate("old", null);
        var current = MakeCertificate("current", null);
        await using var storage = await TestStorage.CreateAsync();

        string secret;
        await using (var before = await MarqueeApp.StartAsync(s => s["Marquee:KeyRing:CertificatePath"] = old, storage: storage))
        {
            secret = Protect(before, "content key");
        }

        await using var after = await MarqueeApp.StartAsync(s =>
        {
            s["Marquee:KeyRing:CertificatePath"] = current;
            s["Marquee:KeyRing:PreviousCertificatePaths"] = old;
        }, storage: storage);
        Assert.Equal("content key", Unprotect(after, secret));
    }

    [Fact]
    public async Task Serve_WhenKeyRingCertificateMissingOrWrongPassword_ExitsWith2AndSaysWhy()
    {
        var pfx = MakeCertificate("locked", "right");
        var dataDir = Path.Combine(folder, "data");
        var missing = Path.Combine(folder, "nowhere.pfx");

        var (code, _, stderr) = await MarqueeProcess.RunAsync(["serve", "--urls", "http://127.0.0.1:0", $"--Marquee:DataDir={dataDir}",
            $"--Marquee:KeyRing:CertificatePath={missing}"]);
        Assert.Equal(2, code);
        Assert.Contains($"Marquee:KeyRing: the certificate file '{missing}' does not exist.", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await MarqueeProcess.RunAsync(["serve", "--urls", "http://127.0.0.1:0", $"--Marquee:DataDir={dataDir}",
            $"--Marquee:KeyRing:CertificatePath={pfx}", "--Marquee:KeyRing:CertificatePassword=wrong"]);
        Assert.Equal(2, code);
        Assert.Contains($"Marquee:KeyRing: the certificate '{pfx}' cannot be read", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }
}
