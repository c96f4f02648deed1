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
    public static (AnalyticsEvent? Event, string? Reason) Parse(ReadOnlySpan<byte> utf8) => Parse(utf8, out _);

    /// <summary>
    /// As <see cref="Parse(ReadOnlySpan{byte})"/>; <paramref name="canonical"/> is the length of the object's text from the
    /// first byte when the text can go to the spool as it is (see <see cref="TryRead"/>), else -1 (it is written again
    /// from the event read). The common shape is read by <see cref="TryRead"/> straight into the record; anything else
    /// (other property spellings, numbers as strings, a bad value...) goes through the source-generated serializer, which
    /// gives the same event or the same refusal as before.
    /// </summary>
    public static (AnalyticsEvent? Event, string? Reason) Parse(ReadOnlySpan<byte> utf8, out int canonical)
    {
        canonical = -1;
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
            if (TryRead(utf8[start..], out var fast, out var copyable))
            {
                canonical = copyable;
                return (fast, null);
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            // not the common shape: the serializer below says why
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

    private const int FId = 0, FType = 1, FTime = 2, FUser = 3, FSession = 4, FTitle = 5, FDevice = 6, FCountry = 7, FPlan = 8, FPosition = 9,
        FDuration = 10, FBitrate = 11, FMs = 12, FAmount = 13, FCurrency = 14, FStatus = 15, FCode = 16, FQuery = 17, FPath = 18, FChannel = 19,
        FBuffer = 20, FStarved = 21, FThroughput = 22, FCmcd = 23;

    private static int FieldOf(ReadOnlySpan<byte> name) => name.Length switch
    {
        2 when name.SequenceEqual("id"u8) => FId,
        2 when name.SequenceEqual("ms"u8) => FMs,
        4 when name.SequenceEqual("type"u8) => FType,
        4 when name.SequenceEqual("time"u8) => FTime,
        4 when name.SequenceEqual("user"u8) => FUser,
        4 when name.SequenceEqual("plan"u8) => FPlan,
        4 when name.SequenceEqual("code"u8) => FCode,
        4 when name.SequenceEqual("path"u8) => FPath,
        4 when name.SequenceEqual("cmcd"u8) => FCmcd,
        5 when name.SequenceEqual("title"u8) => FTitle,
        5 when name.SequenceEqual("query"u8) => FQuery,
        6 when name.SequenceEqual("device"u8) => FDevice,
        6 when name.SequenceEqual("amount"u8) => FAmount,
        6 when name.SequenceEqual("status"u8) => FStatus,
        6 when name.SequenceEqual("buffer"u8) => FBuffer,
        7 when name.SequenceEqual("session"u8) => FSession,
        7 when name.SequenceEqual("country"u8) => FCountry,
        7 when name.SequenceEqual("bitrate"u8) => FBitrate,
        7 when name.SequenceEqual("channel"u8) => FChannel,
        7 when name.SequenceEqual("starved"u8) => FStarved,
        8 when name.SequenceEqual("position"u8) => FPosition,
        8 when name.SequenceEqual("duration"u8) => FDuration,
        8 when name.SequenceEqual("currency"u8) => FCurrency,
        10 when name.SequenceEqual("throughput"u8) => FThroughput,
        _ => -1,
    };

    /// <summary>
    /// The fast path of <see cref="Parse(ReadOnlySpan{byte}, out int)"/>: one object whose members are the schema's names as
    /// written (each at most once), strings as strings, numbers as numbers, booleans, nulls; nothing after it but white
    /// space. The record is filled directly (the serializer's path for init-only members boxes every value into an argument
    /// array). False: not that shape (the caller uses the serializer). <paramref name="copyable"/>: the object's length when
    /// its bytes mean to DuckDB's JSON reader exactly what the serializer would write for the event read (no raw line break,
    /// a title in lower-case "D" form, a time as <c>yyyy-MM-ddTHH:mm:ss[.f]+00:00</c>), else -1.
    /// </summary>
    private static bool TryRead(ReadOnlySpan<byte> utf8, out AnalyticsEvent? e, out int copyable)
    {
        e = null;
        copyable = -1;
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 4 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        var seen = 0u;
        var exact = true;
        string? id = null, type = null, user = null, session = null, device = null, country = null, plan = null, currency = null, status = null,
            code = null, query = null, path = null, channel = null, cmcd = null;
        DateTimeOffset time = default;
        Guid? title = null;
        double? position = null, duration = null, ms = null, buffer = null, throughput = null;
        int? bitrate = null;
        long? amount = null;
        bool? starved = null;
        while (true)
        {
            if (!reader.Read())
            {
                return false;
            }

            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }

            if (reader.TokenType != JsonTokenType.PropertyName || reader.ValueIsEscaped)
            {
                return false;
            }

            var field = FieldOf(reader.ValueSpan);
            if (field < 0 || (seen & (1u << field)) != 0)
            {
                return false;
            }

            seen |= 1u << field;
            if (!reader.Read())
            {
                return false;
            }

            var token = reader.TokenType;
            switch (field)
            {
                case FTime:
                    if (token != JsonTokenType.String || !reader.TryGetDateTimeOffset(out time))
                    {
                        return false;
                    }

                    exact &= !reader.ValueIsEscaped && IsUtcText(reader.ValueSpan);
                    break;
                case FTitle:
                    if (token == JsonTokenType.Null)
                    {
                        title = null;
                    }
                    else if (token == JsonTokenType.String && reader.TryGetGuid(out var g))
                    {
                        title = g;
                        exact &= !reader.ValueIsEscaped && IsLowerGuidText(reader.ValueSpan, g);
                    }
                    else
                    {
                        return false;
                    }

                    break;
                case FPosition or FDuration or FMs or FBuffer or FThroughput:
                    double? d;
                    if (token == JsonTokenType.Null)
                    {
                        d = null;
                    }
                    else if (token == JsonTokenType.Number && reader.TryGetDouble(out var v))
                    {
                        d = v;
                    }
                    else
                    {
                        return false;
                    }

                    _ = field switch
                    {
                        FPosition => position = d,
                        FDuration => duration = d,
                        FMs => ms = d,
                        FBuffer => buffer = d,
                        _ => throughput = d,
                    };
                    break;
                case FBitrate:
                    if (token == JsonTokenType.Null)
                    {
                        bitrate = null;
                    }
                    else if (token == JsonTokenType.Number && reader.TryGetInt32(out var b))
                    {
                        bitrate = b;
                    }
                    else
                    {
                        return false;
                    }

                    break;
                case FAmount:
                    if (token == JsonTokenType.Null)
                    {
                        amount = null;
                    }
                    else if (token == JsonTokenType.Number && reader.TryGetInt64(out var a))
                    {
                        amount = a;
                    }
                    else
                    {
                        return false;
                    }

                    break;
                case FStarved:
                    starved = token switch
                    {
                        JsonTokenType.True => true,
                        JsonTokenType.False => false,
                        JsonTokenType.Null => null,
                        _ => throw new FormatException(),
                    };
                    break;
                default:
                    string? s;
                    if (token == JsonTokenType.Null)
                    {
                        s = null;
                    }
                    else if (token == JsonTokenType.String)
                    {
                        s = reader.GetString();
                    }
                    else
                    {
                        return false;
                    }

                    _ = field switch
                    {
                        FId => id = s,
                        FType => type = s,
                        FUser => user = s,
                        FSession => session = s,
                        FDevice => device = s,
                        FCountry => country = s,
                        FPlan => plan = s,
                        FCurrency => currency = s,
                        FStatus => status = s,
                        FCode => code = s,
                        FQuery => query = s,
                        FPath => path = s,
                        FChannel => channel = s,
                        _ => cmcd = s,
                    };
                    break;
            }
        }

        if ((seen & (1u << FTime)) == 0)
        {
            return false; // the serializer's answer for a missing time is kept (a default time, refused by Check)
        }

        var length = (int)reader.BytesConsumed;
        foreach (var c in utf8[length..])
        {
            if (c is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return false; // something after the object: the serializer's error
            }
        }

        e = new AnalyticsEvent
        {
            Id = id!, Type = type!, Time = time, User = user!, Session = session, Title = title, Device = device, Country = country, Plan = plan,
            Position = position, Duration = duration, Bitrate = bitrate, Ms = ms, Amount = amount, Currency = currency, Status = status, Code = code,
            Query = query, Path = path, Channel = channel, BufferMs = buffer, Starved = starved, Throughput = throughput, Cmcd = cmcd,
        };
        copyable = exact && utf8[..length].IndexOfAny((byte)'\n', (byte)'\r') < 0 ? length : -1;
        return true;
    }

    /// <summary><c>yyyy-MM-ddTHH:mm:ss</c>, optionally <c>.f</c> (1 to 7 digits), then <c>+00:00</c>: the form the serializer writes for UTC.</summary>
    private static bool IsUtcText(ReadOnlySpan<byte> t)
    {
        if (t.Length < 25 || t.Length > 33 || !t[^6..].SequenceEqual("+00:00"u8) || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':')
        {
            return false;
        }

        if (t.Length == 25)
        {
            return true;
        }

        if (t[19] != '.' || t.Length == 26)
        {
            return false;
        }

        foreach (var c in t[20..^6])
        {
            if (!char.IsAsciiDigit((char)c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsLowerGuidText(ReadOnlySpan<byte> text, Guid g)
    {
        Span<byte> d = stackalloc byte[36];
        return g.TryFormat(d, out var n, "D") && n == 36 && text.SequenceEqual(d);
    }

    public static string DayOf(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
