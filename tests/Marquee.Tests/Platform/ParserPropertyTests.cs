using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Marquee.Analytics;
using Marquee.Billing;
using Marquee.Delivery;
using Marquee.Media.Uploads;
using Marquee.Platform;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace Marquee.Tests.Platform;

/// <summary>
/// R29, in CI: the parsers of what clients send (tus headers, playback tokens, analytics events, webhook signatures) meet
/// thousands of generated inputs each. The property is the scenario's: no unexpected exception type, only the parser's
/// own "no" (and, where there is an encoder, what it encodes parses back the same). CsCheck prints the seed of a failing
/// case; a seed pasted into <c>seed:</c> replays it.
/// </summary>
[Trait("Category", "ProviderFree")] // nothing here depends on the database provider: the SQLite pass only
public sealed class ParserPropertyTests
{
    private const int Iterations = 3000;

    /// <summary>Printable ASCII with the characters the parsers split on over-represented.</summary>
    private static readonly Gen<string> Noise = Gen.OneOf(
        Gen.String,
        Gen.String[Gen.Char[" ,=;:\t\"'[]{}\\/.-_+AaZz09\u00e9\u20ac\ud83c\udfac"], 0, 80]);

    [Fact]
    public void TusMetadata_WhenAnyHeader_AnswersYesOrNoAndNeverThrows()
    {
        Noise.Sample(header =>
        {
            if (TusEndpoints.TryParseMetadata(header, out var metadata))
            {
                Assert.NotNull(metadata);
            }
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public void TusMetadata_WhenEncodedAsTusClientsDo_ParsesBackTheSame()
    {
        var key = Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.~"], 1, 16];
        var value = Gen.OneOf(Gen.String, Gen.String[Gen.Char["abc \u00e9\u20ac\ud83c\udfac,="], 0, 30]);
        var pairs = Gen.Select(key, value).Array[0, 6];

        pairs.Sample(list =>
        {
            var unique = list.DistinctBy(p => p.Item1).ToList();
            var header = string.Join(",", unique.Select(p => p.Item2.Length == 0 ? p.Item1 : $"{p.Item1} {Convert.ToBase64String(Encoding.UTF8.GetBytes(p.Item2))}"));

            Assert.True(TusEndpoints.TryParseMetadata(header, out var metadata), header);
            Assert.Equal(unique.Count, metadata.Count);
            foreach (var (k, v) in unique)
            {
                // A lone surrogate cannot survive UTF-8; the parser must still not throw on it.
                Assert.Equal(Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(v)), metadata[k]);
            }
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public void TusChecksum_WhenAnyHeader_NeverThrows_AndAnEncodedDigestParsesBack()
    {
        Noise.Sample(header => { _ = TusEndpoints.TryParseChecksum(header, out _, out _); }, iter: Iterations, threads: 1);

        Gen.Byte.Array[0, 64].Sample(bytes =>
        {
            var digest = SHA256.HashData(bytes);
            Assert.True(TusEndpoints.TryParseChecksum("sha256 " + Convert.ToBase64String(digest), out var algorithm, out var expected));
            Assert.Equal(HashAlgorithmName.SHA256, algorithm);
            Assert.Equal(digest, expected);
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public void PlaybackToken_WhenAnyStringOrOneCharacterChanged_IsRefusedAndNeverThrows()
    {
        var folder = Directory.CreateTempSubdirectory("marquee-token-").FullName;
        var tokens = new PlaybackTokens(
            Options.Create(new MarqueeOptions { DataDir = folder }),
            new EphemeralDataProtectionProvider());
        Directory.Delete(folder, recursive: true); // the secret is read once, at construction
        var session = Guid.NewGuid();
        var expires = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var token = tokens.Issue(session, expires);
        Assert.Equal((session, expires), tokens.Read(token));

        Noise.Sample(s => Assert.Null(tokens.Read(s)), iter: Iterations, threads: 1);

        var alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        Gen.Select(Gen.Int[0, token.Length - 1], Gen.Char[alphabet]).Sample((at, c) =>
        {
            var changed = string.Concat(token.AsSpan(0, at), c.ToString(), token.AsSpan(at + 1));
            var read = tokens.Read(changed);
            // Base64url's last character has spare bits: a change there can decode to the same bytes, and so the same token.
            Assert.True(read is null || changed == token || read == (session, expires), $"{changed} read as {read}");
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public void AnalyticsEvent_WhenAnyJson_IsAnEventOrAReasonAndNeverThrows()
    {
        var fields = new[] { "id", "type", "time", "user", "session", "title", "device", "country", "position", "bitrate", "duration", "amount", "currency", "plan", "status", "error", "query", "page" };
        var scalar = Gen.OneOf<JsonNode?>(
            Gen.Const((JsonNode?)null),
            Gen.Bool.Select(b => (JsonNode?)JsonValue.Create(b)),
            Gen.Long.Select(l => (JsonNode?)JsonValue.Create(l)),
            Gen.Double.Where(d => double.IsFinite(d)).Select(d => (JsonNode?)JsonValue.Create(d)),
            Noise.Select(s => (JsonNode?)JsonValue.Create(s)),
            Gen.DateTimeOffset.Select(t => (JsonNode?)JsonValue.Create(t.ToString("O"))),
            Gen.Guid.Select(g => (JsonNode?)JsonValue.Create(g.ToString())));
        var property = Gen.Select(Gen.OneOf(Gen.OneOf(fields), Noise), scalar);
        var objects = property.Array[0, 12].Select(props =>
        {
            var o = new JsonObject();
            foreach (var (name, value) in props)
            {
                o[name] = value?.DeepClone();
            }

            return (JsonNode?)o;
        });

        Gen.OneOf(objects, scalar).Sample(node =>
        {
            var (e, reason) = EventSchema.Parse(node);
            Assert.True(e is not null ^ reason is not null);
            if (e is not null)
            {
                _ = EventSchema.Check(e, trusted: false);
            }
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public async Task AnalyticsBody_WhenAnyBytes_IsReadOrRefusedWithAReasonAndNeverThrows()
    {
        var bodies = Gen.OneOf(
            Gen.Byte.Array[0, 200],
            Noise.Select(s => Encoding.UTF8.GetBytes(s)),
            Noise.Select(s => Encoding.UTF8.GetBytes("[" + s + "]")),
            Noise.Select(s => Encoding.UTF8.GetBytes("{\"type\":\"" + s + "\"}\n{" + s)));
        var samples = new List<(byte[] Body, bool Gzip)>();
        Gen.Select(bodies, Gen.Bool).Sample((body, gzip) =>
        {
            lock (samples)
            {
                samples.Add((body, gzip));
            }
        }, iter: Iterations, threads: 1);

        foreach (var (body, gzip) in samples)
        {
            using var stream = new MemoryStream(body);
            var (items, error) = await Collector.ReadBodyAsync(stream, gzip, CancellationToken.None);
            Assert.True(items is not null ^ error is not null);
        }
    }

    [Fact]
    public void WebhookSignature_WhenAnyHeader_IsRefusedWithAReason_AndOnlyTheSignedBodyPasses()
    {
        var signer = new SandboxSigner(
            Options.Create(new BillingOptions { Sandbox = { WebhookSecret = "property-test-secret" } }),
            Options.Create(new MarqueeOptions { DataDir = Path.GetTempPath() }));
        var now = new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);

        Gen.Select(Noise, Noise).Sample((body, header) => Assert.NotNull(signer.Check(body, header, now, 300)), iter: Iterations, threads: 1);

        Gen.Select(Noise, Gen.Int[-300, 300], Gen.Char).Sample((body, skew, extra) =>
        {
            var header = signer.Sign(body, now.AddSeconds(skew));
            Assert.Null(signer.Check(body, header, now, 300));
            Assert.Equal("bad signature", signer.Check(body + extra, header, now, 300));
        }, iter: Iterations, threads: 1);
    }
}
