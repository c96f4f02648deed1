using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Marquee.Analytics;

/// <summary>
/// The event schema: one flat record for every type (a field a type does not use stays null). Field names are the wire
/// names of <c>POST /api/analytics/events</c>; see docs/analytics.md.
/// </summary>
internal sealed record AnalyticsEvent
{
    [JsonPropertyName("id")] public string Id { get; init; } = "";
    [JsonPropertyName("type")] public string Type { get; init; } = "";
    [JsonPropertyName("time")] public DateTimeOffset Time { get; init; }
    [JsonPropertyName("user")] public string User { get; init; } = "";
    [JsonPropertyName("session")] public string? Session { get; init; }
    [JsonPropertyName("title")] public Guid? Title { get; init; }
    [JsonPropertyName("device")] public string? Device { get; init; }
    [JsonPropertyName("country")] public string? Country { get; init; }
    [JsonPropertyName("plan")] public string? Plan { get; init; }
    [JsonPropertyName("position")] public double? Position { get; init; }
    [JsonPropertyName("duration")] public double? Duration { get; init; }
    [JsonPropertyName("bitrate")] public int? Bitrate { get; init; }
    [JsonPropertyName("ms")] public double? Ms { get; init; }
    [JsonPropertyName("amount")] public long? Amount { get; init; }
    [JsonPropertyName("currency")] public string? Currency { get; init; }
    [JsonPropertyName("status")] public string? Status { get; init; }
    [JsonPropertyName("code")] public string? Code { get; init; }
    [JsonPropertyName("query")] public string? Query { get; init; }
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("channel")] public string? Channel { get; init; }
    [JsonPropertyName("buffer")] public double? BufferMs { get; init; }
    [JsonPropertyName("starved")] public bool? Starved { get; init; }
    [JsonPropertyName("throughput")] public double? Throughput { get; init; }
    [JsonPropertyName("cmcd")] public string? Cmcd { get; init; }

    /// <summary>Web defaults, nulls left out; source-generated (<see cref="AnalyticsJson"/>), so reading and writing do not reflect.</summary>
    public static readonly JsonSerializerOptions Json = AnalyticsJson.Default.Options;
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AnalyticsEvent))]
internal sealed partial class AnalyticsJson : JsonSerializerContext;

/// <summary>The event types and what each must carry. Player and app types come from clients; server types only from modules.</summary>
internal static class EventSchema
{
    public const string SessionStart = "session_start", PlayRequest = "play_request", FirstFrame = "first_frame", Heartbeat = "heartbeat",
        RebufferStart = "rebuffer_start", RebufferEnd = "rebuffer_end", BitrateSwitch = "bitrate_switch", Error = "error", End = "end",
        PageView = "page_view", Search = "search", SignUp = "sign_up", Purchase = "purchase", Crash = "crash",
        Subscription = "subscription", Payment = "payment", AssetReady = "asset_ready", PlaybackStarted = "playback_started", PlaybackEnded = "playback_ended",
        Cmcd = "cmcd";

    /// <summary>Types only the server itself writes (domain events of other modules, the simulator): refused from clients.</summary>
    public static readonly IReadOnlySet<string> ServerTypes = new HashSet<string>(StringComparer.Ordinal)
        { Subscription, Payment, AssetReady, PlaybackStarted, PlaybackEnded, Cmcd };

    private static readonly IReadOnlySet<string> PlayerTypes = new HashSet<string>(StringComparer.Ordinal)
        { PlayRequest, FirstFrame, Heartbeat, RebufferStart, RebufferEnd, BitrateSwitch, Error, End };

    public static readonly IReadOnlySet<string> ClientTypes = new HashSet<string>(StringComparer.Ordinal)
        { SessionStart, PlayRequest, FirstFrame, Heartbeat, RebufferStart, RebufferEnd, BitrateSwitch, Error, End, PageView, Search, SignUp, Purchase, Crash };

    /// <summary>Null when the event is valid, else the reason it is refused.</summary>
    public static string? Check(AnalyticsEvent e, bool trusted)
    {
        if (string.IsNullOrWhiteSpace(e.Id) || e.Id.Length > 100)
        {
            return "id: required, at most 100 characters";
        }

        if (!ClientTypes.Contains(e.Type) && !ServerTypes.Contains(e.Type))
        {
            return $"type: unknown type '{Cut(e.Type, 40)}'";
        }

        if (!trusted && ServerTypes.Contains(e.Type))
        {
            return $"type: '{e.Type}' is written by the server only";
        }

        if (e.Time == default)
        {
            return "time: required (ISO 8601 with offset)";
        }

        if (string.IsNullOrWhiteSpace(e.User) || e.User.Length > 100)
        {
            return "user: required (account or device id), at most 100 characters";
        }

        if ((PlayerTypes.Contains(e.Type) || e.Type == SessionStart) && string.IsNullOrWhiteSpace(e.Session))
        {
            return "session: required for player and session events";
        }

        if (e.Type is PlayRequest or FirstFrame or Heartbeat or End && e.Title is null)
        {
            return "title: required for play_request, first_frame, heartbeat and end";
        }

        if (e.Country is { } c && (c.Length != 2 || !c.All(char.IsAsciiLetter)))
        {
            return "country: ISO 3166-1 alpha-2";
        }

        foreach (var (name, value) in new[] { ("position", e.Position), ("duration", e.Duration), ("ms", e.Ms), ("buffer", e.BufferMs), ("throughput", e.Throughput) })
        {
            if (value is { } v && (double.IsNaN(v) || double.IsInfinity(v) || v < 0))
            {
                return $"{name}: must be a number >= 0";
            }
        }

        return e.Type switch
        {
            FirstFrame when e.Ms is null => "ms: required for first_frame (time to start in milliseconds)",
            Heartbeat when e.Position is null || e.Bitrate is null or <= 0 => "heartbeat: position (s) and bitrate (kbit/s, > 0) required",
            RebufferEnd when e.Ms is null => "ms: required for rebuffer_end (stall duration in milliseconds)",
            BitrateSwitch when e.Bitrate is null or <= 0 => "bitrate: required for bitrate_switch (kbit/s, > 0)",
            End when e.Position is null => "position: required for end (seconds)",
            Search when string.IsNullOrWhiteSpace(e.Query) => "query: required for search",
            PageView when string.IsNullOrWhiteSpace(e.Path) => "path: required for page_view",
            Purchase or Payment when e.Amount is null or < 0 || e.Currency is not { Length: 3 } => "amount (minor units, >= 0) and currency (ISO 4217) required",
            Subscription when string.IsNullOrWhiteSpace(e.Status) || string.IsNullOrWhiteSpace(e.Plan) => "status and plan required for subscription",
            _ => null,
        };
    }

    public static string Cut(string? s, int max) => s is null ? "" : s.Length <= max ? s : s[..max];

    /// <summary>Reads one event; null with a reason when it is not an event object of the schema.</summary>
    public static (AnalyticsEvent? Event, string? Reason) Parse(JsonNode? node)
    {
        if (node is not JsonObject)
        {
            return (null, "not a JSON object");
        }

        try
        {
            var e = node.Deserialize<AnalyticsEvent>(AnalyticsEvent.Json);
            return e is null ? (null, "not a JSON object") : (e, null);
        }
        catch (JsonException ex)
        {
            return (null, $"does not match the schema: {Cut(ex.Path, 60)} {Cut(ex.Message.Split('.')[0], 120)}".Trim());
        }
    }

    /// <summary>Reads one event from its UTF-8 JSON text (one NDJSON line, one array element) without building a DOM.</summary>
    public static (AnalyticsEvent? Event, string? Reason) Parse(ReadOnlySpan<byte> utf8)
    {
        var start = 0;
        while (start < utf8.Length && utf8[start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            start++;
        }

        if (start == utf8.Length || utf8[start] != (byte)'{')
        {
            return (null, "not a JSON object");
        }

        try
        {
            var e = JsonSerializer.Deserialize(utf8[start..], AnalyticsJson.Default.AnalyticsEvent);
            return e is null ? (null, "not a JSON object") : (e, null);
        }
        catch (JsonException ex)
        {
            return (null, $"not JSON or does not match the schema: {Cut(ex.Path, 60)} {Cut(ex.Message.Split('.')[0], 120)}".Trim());
        }
    }

    public static string DayOf(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
