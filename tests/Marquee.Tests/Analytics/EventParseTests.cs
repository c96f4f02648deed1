using System.Text;
using System.Text.Json;
using Marquee.Analytics;

namespace Marquee.Tests.Analytics;

/// <summary>
/// The beacon's fast reader (<see cref="EventSchema.Parse(ReadOnlySpan{byte}, out int)"/>) gives the same event, or the same
/// refusal, as the source-generated serializer it stands in for, and says which texts may go to the spool as sent.
/// </summary>
[Trait("Category", "ProviderFree")]
public sealed class EventParseTests
{
    private const string Title = "0195a0a0-0000-7000-8000-000000000009";

    public static TheoryData<string, bool> Lines => new()
    {
        // The common shape, as sent: copyable.
        { $$"""{"id":"e1","type":"heartbeat","time":"2026-11-20T10:00:00.1234567+00:00","user":"u","session":"s","title":"{{Title}}","position":60,"bitrate":3000,"duration":2400.5}""", true },
        { $$"""  {"id":"e2","type":"end","time":"2026-11-20T10:00:00+00:00","user":"u","session":"s","title":"{{Title}}","position":1e2,"starved":false,"amount":12345678901}  """, true },
        { """{"id":"q \"x\" \\ é \u00e9 \n","type":"search","time":"2026-11-20T10:00:00.5+00:00","user":"ü","query":"a\u2028b","device":null}""", true },
        // Read fast, but written again: a time with another offset or Z, an upper-case or braced title, a raw line break.
        { """{"id":"e3","type":"search","time":"2026-11-20T10:00:00Z","user":"u","query":"x"}""", false },
        { """{"id":"e4","type":"search","time":"2026-11-20T10:00:00-02:00","user":"u","query":"x"}""", false },
        { $$"""{"id":"e5","type":"play_request","time":"2026-11-20T10:00:00+00:00","user":"u","session":"s","title":"{{Title.ToUpperInvariant()}}"}""", false },
        { "{\"id\":\"e6\",\n\"type\":\"search\",\"time\":\"2026-11-20T10:00:00+00:00\",\"user\":\"u\",\"query\":\"x\"}", false },
        // The serializer's cases: other spellings, numbers as strings, duplicates, unknown members, bad values, trailing text.
        { """{"ID":"e7","Type":"search","time":"2026-11-20T10:00:00+00:00","user":"u","query":"x"}""", false },
        { """{"id":"e8","type":"heartbeat","time":"2026-11-20T10:00:00+00:00","user":"u","position":"12.5","bitrate":"3000"}""", false },
        { """{"id":"e9","id":"e10","type":"search","time":"2026-11-20T10:00:00+00:00","user":"u","query":"x"}""", false },
        { """{"id":"e11","type":"search","time":"2026-11-20T10:00:00+00:00","user":"u","query":"x","extra":{"a":[1,2]}}""", false },
        { """{"id":"e12","type":"heartbeat","time":"2026-11-20T10:00:00+00:00","user":"u","bitrate":3000.5}""", false },
        { """{"id":"e13","type":"heartbeat","time":"yesterday","user":"u"}""", false },
        { """{"id":"e14","type":"heartbeat","user":"u"}""", false },
        { """{"id":"e15","type":"heartbeat","time":"2026-11-20T10:00:00+00:00","user":"u"} x""", false },
        { """{"id":"e16","type":"heartbeat","time":"2026-11-20T10:00:00+00:00","user":"u","starved":"yes"}""", false },
        { """{"id":17,"type":"heartbeat","time":"2026-11-20T10:00:00+00:00","user":"u"}""", false },
        { """{"id":"e18","type":"heartbeat","time":"2026-11-20T10:00:00+00:00","user":"u",}""", false },
        { """{"id":"e19","type":"heartbeat","time":"2026-11-20T10:00:00+00:00","title":null,"user":null}""", true },
        { """[1]""", false },
    };

    [Theory]
    [MemberData(nameof(Lines))]
    public void The_fast_reader_agrees_with_the_serializer_and_says_what_is_copyable(string line, bool copyable)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        var (fast, reason) = EventSchema.Parse(bytes, out var canonical);

        AnalyticsEvent? slow = null;
        string? slowError = null;
        var start = line.IndexOf('{', StringComparison.Ordinal);
        try
        {
            slow = start < 0 || line.TrimStart()[0] != '{' ? null : JsonSerializer.Deserialize(bytes.AsSpan(Encoding.UTF8.GetByteCount(line[..start])), AnalyticsJson.Default.AnalyticsEvent);
        }
        catch (JsonException ex)
        {
            slowError = ex.Message;
        }

        Assert.Equal(slow, fast);
        Assert.Equal(slow is null, reason is not null);
        if (slowError is not null)
        {
            Assert.Contains(slowError.Split('.')[0][..Math.Min(40, slowError.Split('.')[0].Length)], reason!, StringComparison.Ordinal);
        }

        Assert.Equal(copyable, canonical > 0);
        if (canonical > 0)
        {
            // The copied bytes are the object itself, and read back as the same event.
            var copied = bytes.AsSpan(Encoding.UTF8.GetByteCount(line[..start]), canonical);
            Assert.Equal((byte)'}', copied[^1]);
            Assert.Equal(fast, JsonSerializer.Deserialize(copied, AnalyticsJson.Default.AnalyticsEvent));
        }
    }
}
