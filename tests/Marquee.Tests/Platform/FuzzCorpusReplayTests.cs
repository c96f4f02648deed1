using System.Security.Cryptography;
using System.Text;
using Marquee.Analytics;
using Marquee.Analytics.Contracts;
using Marquee.Billing;
using Marquee.Fuzz;

namespace Marquee.Tests.Platform;

/// <summary>
/// R29 in CI: every file of the committed fuzz corpus (<c>fuzz/corpus/&lt;target&gt;/</c>: afl's seeds and every input
/// that once crashed a parser) goes through the same target code afl-fuzz runs (<c>fuzz/Marquee.Fuzz/Targets.cs</c>);
/// none may throw. The campaign itself is <c>fuzz/run.sh</c>.
/// </summary>
[Trait("Category", "ProviderFree")]
public sealed class FuzzCorpusReplayTests
{
    private static readonly string Corpus = Path.Combine(AppContext.BaseDirectory, "fuzz-corpus");

    public static TheoryData<string> Targets => [.. FuzzTargets.All.Keys];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Corpus_WhenReplayedThroughItsTarget_NoInputThrows(string target)
    {
        var files = Directory.GetFiles(Path.Combine(Corpus, target));
        Assert.NotEmpty(files);
        var failures = new List<string>();
        foreach (var file in files)
        {
            try
            {
                FuzzTargets.All[target](File.ReadAllBytes(file));
            }
#pragma warning disable CA1031 // every exception type is a failure here, reported with its input
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failures.Add($"{Path.GetFileName(file)}: {FuzzTargets.Describe(ex)}");
            }
        }

        Assert.Empty(failures);
    }

    [Fact]
    public void Corpus_HasAFolderForEveryTargetAndNoOther()
    {
        var folders = Directory.GetDirectories(Corpus).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(FuzzTargets.All.Keys.Order(StringComparer.Ordinal), folders);
    }

    [Theory]
    [InlineData("br")]
    [InlineData("bl,d")]
    [InlineData("bs,mtp")]
    public void Cmcd_WhenANumericKeyComesAlone_IsRefusedWithAReason(string cmcd)
    {
        // Found by the fuzz campaign: a numeric key without a value was stored as true, and the cast to a number threw.
        var incoming = CmcdFeed.ToEvent(new SegmentRequestTelemetry(Guid.NewGuid(), Guid.Empty, Guid.NewGuid(), "web", DateTimeOffset.UnixEpoch, cmcd));
        Assert.Null(incoming.Event);
        Assert.Matches("^cmcd: [a-z]+: not a number", incoming.Reason);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("2147483648")] // 2038-01-19T03:14:08Z, one second past Int32
    public void StripeWebhook_WhenTheSignedTimestampIsNotAnInt32_IsRefusedNot500(string t)
    {
        // Found by the fuzz campaign: Stripe.net reads t= with Convert.ToInt32 after the signature matched.
        const string secret = "whsec_test";
        const string body = "{\"id\":\"evt_1\",\"object\":\"event\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{}}}";
        var mac = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{t}.{body}")));

        var (evt, problem) = StripeWebhooks.Verify(body, $"t={t},v1={mac}", secret, 300, 2147483648);

        Assert.Null(evt);
        Assert.Equal("malformed signature", problem);
    }

    [Theory]
    [InlineData("{\"id\":410,\"data\":{}}")] // a number where a string belongs: InvalidOperationException
    [InlineData("{\"id\":\"e\",\"object\":0,\"data\":{\"object\":{}},\"type\":\"x\"}")]
    [InlineData("{\"id\":\"e\",\"ot\":\"t\",\"ot\":\"u\"}")] // a key twice: ArgumentException
    [InlineData("{\"id\":\"e\",\"created\":{}}")] // System.Text.Json's JsonException (Stripe.net no longer reads with Newtonsoft)
    [InlineData("{\"id\":\"e\": 1}")]
    public void StripeWebhook_WhenASignedBodyIsNotAnEvent_IsMalformedNot500(string body)
    {
        // Found by the fuzz campaign: each threw out of Stripe.net's event reader (none of them a Newtonsoft JsonException).
        const string secret = "whsec_test";
        const long now = 1795694400;
        var mac = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{now}.{body}")));

        var (evt, problem) = StripeWebhooks.Verify(body, $"t={now},v1={mac}", secret, 300, now);

        Assert.Null(evt);
        Assert.Equal("malformed event", problem);
    }
}
