using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Marquee.Analytics;
using Marquee.Analytics.Contracts;
using Marquee.Billing;
using Marquee.Delivery;
using Marquee.Media.Uploads;
using Marquee.Platform;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace Marquee.Fuzz;

/// <summary>
/// R29: one fuzz target per parser of outside input, each calling the product's own parsing code with bytes as a client
/// could send them. A target returns for every input the parser answers (yes, or no with its reason) and throws for
/// anything else: an exception type the parser's caller does not handle (a 500 in the product), or a broken property.
/// afl++ runs them through <c>Program.cs</c> (fuzz/run.sh); <c>FuzzCorpusReplayTests</c> in Marquee.Tests feeds every
/// file of <c>fuzz/corpus/&lt;target&gt;/</c> to the same code in CI.
/// </summary>
internal static class FuzzTargets
{
    /// <summary>Target name (also its corpus folder) and the code it runs.</summary>
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["tus"] = Tus,
        ["token"] = Token,
        ["event"] = Event,
        ["beacon"] = Beacon,
        ["cmcd"] = Cmcd,
        ["sandbox-webhook"] = SandboxWebhook,
        ["stripe-webhook"] = StripeWebhook,
    };

    // Product objects are made on first use, never in this class's static constructor: SharpFuzz's instrumented code
    // must not run before Fuzzer.OutOfProcess.Run has set up afl's shared memory (it crashes the fork server).
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    private static readonly Lazy<UploadOptions> Limits = new(() => new UploadOptions());
    private static readonly Lazy<(PlaybackTokens Tokens, string Token, Guid Session, DateTimeOffset Expires)> Playback = new(MakeTokens);
    private static readonly Lazy<SandboxSigner> Sandbox = new(() => new SandboxSigner(
        Options.Create(new BillingOptions { Sandbox = { WebhookSecret = "fuzz-sandbox-secret" } }),
        Options.Create(new MarqueeOptions { DataDir = Path.GetTempPath() })));
    private const string StripeSecret = "whsec_fuzz";

    /// <summary>
    /// tus headers, one a line: Upload-Length, Upload-Metadata, Upload-Checksum, Upload-Offset (header values are bytes,
    /// read as Latin-1 as Kestrel does). A creation the headers pass must have a length within the limit.
    /// </summary>
    private static void Tus(byte[] input)
    {
        var lines = Lines(input, 4);
        var refused = TusEndpoints.CheckCreation(lines[0], lines[1], Limits.Value, out var length, out var metadata);
        if (refused is null && (length <= 0 || length > Limits.Value.MaxBytes || metadata is null))
        {
            throw new InvalidOperationException($"creation accepted with length {length}");
        }

        if (TusEndpoints.TryParseChecksum(lines[2], out var algorithm, out var expected) && algorithm is not null && expected is null)
        {
            throw new InvalidOperationException("checksum accepted without a digest");
        }

        if (TusEndpoints.TryParseSize(lines[3], out var offset) && offset < 0)
        {
            throw new InvalidOperationException($"negative offset {offset}");
        }
    }

    /// <summary>
    /// A playback token from the URL path: any string is refused unless it is the one issued; and the issued token with
    /// one character replaced (position and character from the input) reads as nothing or as itself.
    /// </summary>
    private static void Token(byte[] input)
    {
        var (tokens, token, session, expires) = Playback.Value;
        var text = Encoding.Latin1.GetString(input);
        var read = tokens.Read(text);
        if (read is not null && read != (session, expires))
        {
            throw new InvalidOperationException($"'{text}' read as {read}");
        }

        if (input.Length >= 2)
        {
            var at = input[0] % token.Length;
            var changed = string.Concat(token.AsSpan(0, at), ((char)input[1]).ToString(), token.AsSpan(at + 1));
            var again = tokens.Read(changed);
            if (again is not null && again != (session, expires))
            {
                throw new InvalidOperationException($"'{changed}' read as {again}");
            }
        }
    }

    /// <summary>One analytics event as JSON text: read straight from the bytes (as the beacon API does) and from a JSON tree.</summary>
    private static void Event(byte[] input)
    {
        var (e, reason) = EventSchema.Parse(input);
        if (e is null == reason is null)
        {
            throw new InvalidOperationException("an event and a reason, or neither");
        }

        if (e is not null)
        {
            _ = EventSchema.Check(e, trusted: false);
        }

        JsonNode? node;
        try
        {
            node = JsonNode.Parse(input);
        }
        catch (JsonException)
        {
            return; // not JSON: the tree path never sees it
        }

        var (fromTree, treeReason) = EventSchema.Parse(node);
        if (fromTree is null == treeReason is null)
        {
            throw new InvalidOperationException("an event and a reason, or neither (tree)");
        }

        if (fromTree is not null)
        {
            _ = EventSchema.Check(fromTree, trusted: false);
        }
    }

    /// <summary>A beacon body (first byte odd: the rest is sent as Content-Encoding gzip): a JSON array or NDJSON of events.</summary>
    private static void Beacon(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        using var stream = new MemoryStream(input, 1, input.Length - 1);
        // A MemoryStream (and GZipStream over one) completes synchronously: nothing is blocked on here.
        var (items, error) = Collector.ReadBodyAsync(stream, gzip: (input[0] & 1) == 1, CancellationToken.None).GetAwaiter().GetResult();
        if (items is null == error is null)
        {
            throw new InvalidOperationException("items and an error, or neither");
        }

        foreach (var item in items ?? [])
        {
            if (item.Event is not null)
            {
                _ = EventSchema.Check(item.Event, trusted: false);
            }
        }
    }

    /// <summary>The CMCD query parameter of a segment request as the origin hands it to Analytics.</summary>
    private static void Cmcd(byte[] input)
    {
        var text = Encoding.UTF8.GetString(input);
        var incoming = CmcdFeed.ToEvent(new SegmentRequestTelemetry(Guid.Empty, Guid.Empty, Guid.Empty, "web", Now, text));
        if (incoming.Event is null == incoming.Reason is null)
        {
            throw new InvalidOperationException("an event and a reason, or neither");
        }
    }

    /// <summary>
    /// The sandbox gateway's webhook: first line the Marquee-Signature header, the rest the body, checked as sent; then
    /// the body signed at a time taken from the input passes exactly when within 300 s.
    /// </summary>
    private static void SandboxWebhook(byte[] input)
    {
        var (header, body) = HeaderAndBody(input);
        _ = Sandbox.Value.Check(body, header, Now, 300); // a reason or null (a seed may carry a right signature)

        var skew = input.Length >= 2 ? (input[0] << 8 | input[1]) - 32768 : 0;
        var signed = Sandbox.Value.Sign(body, Now.AddSeconds(skew));
        var problem = Sandbox.Value.Check(body, signed, Now, 300);
        if ((problem is null) != (Math.Abs(skew) <= 300))
        {
            throw new InvalidOperationException($"signed {skew} s off: {problem ?? "accepted"}");
        }
    }

    /// <summary>
    /// Stripe's webhook through Stripe.net: first byte even, the first line is the Stripe-Signature header as sent (the
    /// rest the body); odd, the first line is the timestamp and the body is signed with the secret as Stripe signs it
    /// (so the event JSON behind the signature is read too).
    /// </summary>
    private static void StripeWebhook(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var (line, body) = HeaderAndBody(input.AsSpan(1).ToArray());
        string header;
        if ((input[0] & 1) == 0)
        {
            header = line;
        }
        else
        {
            var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(StripeSecret), Encoding.UTF8.GetBytes($"{line}.{body}"));
            header = $"t={line},v1={Convert.ToHexStringLower(mac)}";
        }

        var (evt, problem) = StripeWebhooks.Verify(body, header, StripeSecret, 300, Now.ToUnixTimeSeconds());
        if (evt is null == problem is null)
        {
            throw new InvalidOperationException("an event and a problem, or neither");
        }
    }

    private static (PlaybackTokens, string, Guid, DateTimeOffset) MakeTokens()
    {
        var folder = Directory.CreateTempSubdirectory("marquee-fuzz-token-").FullName;
        var tokens = new PlaybackTokens(Options.Create(new MarqueeOptions { DataDir = folder }), new EphemeralDataProtectionProvider());
        Directory.Delete(folder, recursive: true); // the secret is read once, at construction
        var session = new Guid("0193e3c1-7a2b-7c3d-8e4f-5a6b7c8d9e0f");
        var expires = Now.AddHours(6);
        return (tokens, tokens.Issue(session, expires), session, expires);
    }

    private static string[] Lines(byte[] input, int count)
    {
        var lines = Encoding.Latin1.GetString(input).Split('\n', count);
        return [.. lines, .. Enumerable.Repeat("", count - lines.Length)];
    }

    private static (string Header, string Body) HeaderAndBody(byte[] input)
    {
        var newline = Array.IndexOf(input, (byte)'\n');
        return newline < 0
            ? (Encoding.Latin1.GetString(input), "")
            : (Encoding.Latin1.GetString(input, 0, newline), Encoding.UTF8.GetString(input, newline + 1, input.Length - newline - 1));
    }

    /// <summary>Culture-independent formatting for the harness's messages.</summary>
    public static string Describe(Exception ex) => string.Create(CultureInfo.InvariantCulture, $"{ex.GetType().FullName}: {ex.Message}");
}
