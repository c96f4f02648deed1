using System.Text;
using Marquee.Identity;
using OtpNet;

namespace Marquee.Tests.Identity;

/// <summary>TOTP as the sign-in checks it: RFC 6238's own test vectors, the drift window and replay refusal.</summary>
[Trait("Category", "ProviderFree")] // nothing here depends on the database provider: the SQLite pass only
public sealed class TotpTests
{
    private static readonly byte[] Sha1Seed = Encoding.ASCII.GetBytes("12345678901234567890");
    private static readonly byte[] Sha256Seed = Encoding.ASCII.GetBytes("12345678901234567890123456789012");
    private static readonly byte[] Sha512Seed = Encoding.ASCII.GetBytes("1234567890123456789012345678901234567890123456789012345678901234");

    /// <summary>RFC 6238 appendix B: time in seconds since the epoch, mode, the 8-digit code.</summary>
    [Theory]
    [InlineData(59L, "SHA1", "94287082")]
    [InlineData(59L, "SHA256", "46119246")]
    [InlineData(59L, "SHA512", "90693936")]
    [InlineData(1111111109L, "SHA1", "07081804")]
    [InlineData(1111111109L, "SHA256", "68084774")]
    [InlineData(1111111109L, "SHA512", "25091201")]
    [InlineData(1111111111L, "SHA1", "14050471")]
    [InlineData(1111111111L, "SHA256", "67062674")]
    [InlineData(1111111111L, "SHA512", "99943326")]
    [InlineData(1234567890L, "SHA1", "89005924")]
    [InlineData(1234567890L, "SHA256", "91819424")]
    [InlineData(1234567890L, "SHA512", "93441116")]
    [InlineData(2000000000L, "SHA1", "69279037")]
    [InlineData(2000000000L, "SHA256", "90698825")]
    [InlineData(2000000000L, "SHA512", "38618901")]
    [InlineData(20000000000L, "SHA1", "65353130")]
    [InlineData(20000000000L, "SHA256", "77737706")]
    [InlineData(20000000000L, "SHA512", "47863826")]
    public void Verify_WhenGivenRfc6238TestVector_Accepts(long seconds, string mode, string code)
    {
        var (seed, hash) = mode switch
        {
            "SHA1" => (Sha1Seed, OtpHashMode.Sha1),
            "SHA256" => (Sha256Seed, OtpHashMode.Sha256),
            _ => (Sha512Seed, OtpHashMode.Sha512),
        };
        var at = DateTimeOffset.FromUnixTimeSeconds(seconds);

        Assert.True(TotpProvider.Verify(seed, code, at, lastUsedStep: 0, out var step, hash, 8));
        Assert.Equal(seconds / 30, step);
        var wrong = (code[..^1] + (char)('0' + ((code[^1] - '0' + 1) % 10))).ToString();
        Assert.False(TotpProvider.Verify(seed, wrong, at, 0, out _, hash, 8));
    }

    [Fact]
    public void Verify_WhenCodeReplayed_RefusesItTheSecondTime()
    {
        var key = Base32Encoding.ToString(KeyGeneration.GenerateRandomKey(20));
        var now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_015);
        var code = new OtpNet.Totp(Base32Encoding.ToBytes(key)).ComputeTotp(now.UtcDateTime);

        Assert.True(TotpProvider.Verify(key, code, now, lastUsedStep: 0, out var used));
        Assert.False(TotpProvider.Verify(key, code, now.AddSeconds(5), lastUsedStep: used, out _));
        // The next step's code is still accepted after it.
        var next = new OtpNet.Totp(Base32Encoding.ToBytes(key)).ComputeTotp(now.AddSeconds(30).UtcDateTime);
        Assert.True(TotpProvider.Verify(key, next, now.AddSeconds(30), used, out _));
    }

    [Fact]
    public void Verify_WhenCodeOutsideOneStepOfDrift_Refuses()
    {
        var key = Base32Encoding.ToString(KeyGeneration.GenerateRandomKey(20));
        var then = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        var code = new OtpNet.Totp(Base32Encoding.ToBytes(key)).ComputeTotp(then.UtcDateTime);

        Assert.True(TotpProvider.Verify(key, code, then.AddSeconds(30), 0, out _));
        Assert.False(TotpProvider.Verify(key, code, then.AddSeconds(90), 0, out _));
    }
}
