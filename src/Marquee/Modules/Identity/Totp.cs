using System.Globalization;
using Marquee.Identity.Data;
using Microsoft.AspNetCore.Identity;
using OtpNet;

namespace Marquee.Identity;

/// <summary>
/// TOTP (RFC 6238) with Otp.NET as Identity's authenticator token provider: SHA-1, 6 digits, 30-second steps (what
/// authenticator apps use), one step of clock drift either way, and no replay: a code of a step at or before the last
/// accepted one is refused, even within its 30 seconds.
/// </summary>
internal sealed class TotpProvider(TimeProvider clock) : IUserTwoFactorTokenProvider<Account>
{
    public const int Digits = 6;
    public const int StepSeconds = 30;

    public async Task<bool> CanGenerateTwoFactorTokenAsync(UserManager<Account> manager, Account user) =>
        !string.IsNullOrEmpty(await manager.GetAuthenticatorKeyAsync(user));

    public Task<string> GenerateAsync(string purpose, UserManager<Account> manager, Account user) =>
        Task.FromResult(string.Empty); // the code comes from the person's app, never from the server

    public async Task<bool> ValidateAsync(string purpose, string token, UserManager<Account> manager, Account user)
    {
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentNullException.ThrowIfNull(user);
        var key = await manager.GetAuthenticatorKeyAsync(user);
        if (string.IsNullOrEmpty(key) || !Verify(key, token, clock.GetUtcNow(), user.LastTotpStep, out var step))
        {
            return false;
        }

        user.LastTotpStep = step;
        var saved = await manager.UpdateAsync(user); // the concurrency stamp makes a second, racing use of the same code fail
        return saved.Succeeded;
    }

    /// <summary>True when <paramref name="code"/> is the code of a step within one of now and after <paramref name="lastUsedStep"/>.</summary>
    public static bool Verify(string base32Key, string? code, DateTimeOffset now, long lastUsedStep, out long matchedStep) =>
        Verify(Base32Encoding.ToBytes(base32Key), code, now, lastUsedStep, out matchedStep, OtpHashMode.Sha1, Digits);

    /// <summary>RFC 6238 verification for any hash and length (the RFC's test vectors use SHA-1/256/512 and 8 digits).</summary>
    public static bool Verify(byte[] key, string? code, DateTimeOffset now, long lastUsedStep, out long matchedStep, OtpHashMode mode, int digits)
    {
        matchedStep = 0;
        code = (code ?? "").Replace(" ", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);
        if (code.Length != digits || !code.All(char.IsAsciiDigit))
        {
            return false;
        }

        var totp = new OtpNet.Totp(key, StepSeconds, mode, digits);
        return totp.VerifyTotp(now.UtcDateTime, code, out matchedStep, new VerificationWindow(previous: 1, future: 1))
               && matchedStep > lastUsedStep;
    }

    /// <summary>The <c>otpauth://</c> address an authenticator app reads from the QR code.</summary>
    public static string Uri(string issuer, string account, string base32Key) =>
        string.Create(CultureInfo.InvariantCulture,
            $"otpauth://totp/{System.Uri.EscapeDataString(issuer)}:{System.Uri.EscapeDataString(account)}?secret={base32Key}&issuer={System.Uri.EscapeDataString(issuer)}&algorithm=SHA1&digits={Digits}&period={StepSeconds}");

    /// <summary>The QR code of <paramref name="text"/> as an SVG document (QRCoder), drawn on the server.</summary>
    public static string QrSvg(string text)
    {
        using var generator = new QRCoder.QRCodeGenerator();
        using var data = generator.CreateQrCode(text, QRCoder.QRCodeGenerator.ECCLevel.M);
        return new QRCoder.SvgQRCode(data).GetGraphic(6, "#000000", "#ffffff", true, QRCoder.SvgQRCode.SizingMode.ViewBoxAttribute);
    }
}
