using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Marquee.Platform.Hosting;

/// <summary>
/// How the Data Protection key ring (<c>&lt;DataDir&gt;/keys</c>) is protected at rest, bound from <c>Marquee:KeyRing</c>.
/// The key ring protects cookies, forms and every title's content key; with a certificate configured its keys are
/// written encrypted to that certificate (kept outside the data folder: a copy of the data folder alone then reveals no key).
/// </summary>
public sealed class KeyRingOptions
{
    public const string Section = "Marquee:KeyRing";

    /// <summary>A PKCS#12 (.pfx/.p12) file with a certificate and its private key. Empty: the key ring is stored unencrypted.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The password of <see cref="CertificatePath"/>, if it has one (set it from the environment, not a file).</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>Certificates used before (comma-separated .pfx paths, same password): keys they encrypted stay readable after a rotation.</summary>
    public string? PreviousCertificatePaths { get; set; }

    public bool Encrypted => !string.IsNullOrWhiteSpace(CertificatePath);

    /// <summary>Loads a certificate; throws <see cref="StartupException"/> with one plain line when it cannot be used.</summary>
    internal X509Certificate2 Load(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new StartupException($"{Section}: the certificate file '{full}' does not exist.");
        }

        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(full, CertificatePassword, X509KeyStorageFlags.EphemeralKeySet);
        }
        catch (CryptographicException ex)
        {
            throw new StartupException($"{Section}: the certificate '{full}' cannot be read (a PKCS#12 file with the right password is needed): {ex.Message}");
        }

        if (!certificate.HasPrivateKey || certificate.GetRSAPrivateKey() is null)
        {
            certificate.Dispose();
            throw new StartupException($"{Section}: the certificate '{full}' has no RSA private key; the key ring needs one to encrypt and read its keys.");
        }

        return certificate;
    }

    internal IEnumerable<string> PreviousPaths() =>
        (PreviousCertificatePaths ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

internal static partial class KeyRingLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "The key ring (cookies, forms, content keys) is stored unencrypted in the data folder: set {Section}:CertificatePath to encrypt it at rest")]
    public static partial void Unencrypted(ILogger logger, string section);
}
