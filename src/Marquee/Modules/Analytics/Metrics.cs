using System.Globalization;
using System.Text;

namespace Marquee.Analytics;

/// <summary>
/// One metric of SCOPE.md section C, defined once: its id, family, formula, unit, source events, owner and the SQL that
/// computes it over the warehouse. <see cref="Sql"/> is null when the source does not exist yet: such a metric shows
/// "no data yet", never a number. The SQL yields (period, dimension value, value) for <c>{grain}</c> (day, week, month),
/// <c>{dim}</c> (a column expression, or 'all') and the parameters <c>$from</c>, <c>$to</c> (yyyy-MM-dd, inclusive)
/// and <c>$dim</c> (the roll-up dimension name).
/// </summary>
internal sealed record MetricDefinition(
    string Id, string Family, string Name, string Formula, string Unit, string Sources, string Owner,
    IReadOnlyList<string> Dimensions, string? Sql, string? NoDataReason = null);

internal sealed record MetricPoint(string Period, string Dimension, double? Value);

internal sealed record MetricResult(
    string Id, string Family, string Name, string Formula, string Unit, string Sources, string Owner, string Status, string? Note,
    IReadOnlyList<MetricPoint> Points);

internal sealed record MetricsAnswer(string From, string To, string Grain, string By, IReadOnlyList<MetricResult> Metrics);

/// <summary>The metric catalogue K1-K12 (docs/analytics.md lists it too).</summary>
internal static class MetricCatalogue
{
    public static readonly IReadOnlyList<string> Grains = ["day", "week", "month"];

    private const string Range = "day BETWEEN CAST($from AS DATE) AND CAST($to AS DATE)";
    private const string Paying = "('active', 'pastdue')";

    /// <summary>A metric read from the daily roll-ups: a ratio of sums, so days add up to weeks and months.</summary>
    private static string Rollup(string expression) =>
        $"SELECT date_trunc('{{grain}}', day) AS p, value AS v, {expression} FROM daily_rollup WHERE dim = $dim AND {Range} GROUP BY 1, 2";

    private static readonly string[] SessionDims = ["title", "genre", "device", "country", "plan"];
    private static readonly string[] UserDims = ["device", "country", "plan"];

    private static string Periods(string grain) => $"""
        periods AS (SELECT DISTINCT CAST(date_trunc('{grain}', d) AS DATE) AS p
                    FROM range(CAST($from AS TIMESTAMP), CAST($to AS TIMESTAMP) + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)),
        bounds AS (SELECT p, least(p + INTERVAL 1 {grain}, CAST($to AS DATE) + INTERVAL 1 DAY) AS e FROM periods)
        """;

    /// <summary>Each subscriber's status at the start (s0) and end (s1) of each period.</summary>
    private static string SubscriberStates(string grain) => $"""
        WITH {Periods(grain)},
        st AS (SELECT b.p, u.user_id,
                 (SELECT arg_max(x.status, x.ts) FROM events x WHERE x.type = 'subscription' AND x.user_id = u.user_id AND x.ts < b.p) AS s0,
                 (SELECT arg_max(x.status, x.ts) FROM events x WHERE x.type = 'subscription' AND x.user_id = u.user_id AND x.ts < b.e) AS s1
               FROM bounds b CROSS JOIN (SELECT DISTINCT user_id FROM events WHERE type = 'subscription') u)
        """;

    private static string None(string reason) => reason;

    public static readonly IReadOnlyList<MetricDefinition> All =
    [
        // K1 Content operations
        new("K1.library_hours", "K1", "Library size (hours of video and audio)", "sum of the durations of assets that became ready up to the period's end, in hours",
            "h", "asset_ready (Media.AssetReady)", "Media", [], $"""
            WITH {Periods("{grain}")}
            SELECT b.p, 'all', (SELECT sum(duration) / 3600.0 FROM events WHERE type = 'asset_ready' AND ts < b.e) FROM bounds b
            """),
        new("K1.new_content", "K1", "New content", "assets that became ready in the period", "assets", "asset_ready (Media.AssetReady)", "Media", ["genre"],
            "SELECT date_trunc('{grain}', e.day), {dim}, count(*) FROM events e LEFT JOIN titles t ON t.title_id = e.title_id WHERE e.type = 'asset_ready' AND e.day BETWEEN CAST($from AS DATE) AND CAST($to AS DATE) GROUP BY 1, 2"),
        new("K1.completion_rate", "K1", "Average completion rate", "sessions that reached 90% of the title's duration / sessions that showed a first frame",
            "ratio", "first_frame, heartbeat, end", "Analytics", SessionDims, Rollup("sum(completed) / nullif(sum(started), 0)")),
        new("K1.exclusive_share", "K1", "Share of exclusive content", "exclusive titles / titles", "ratio", "Rights (exclusivity)", "Rights", [], null,
            None("Rights' contract does not say yet which licences are exclusive")),

        // K2 User growth
        new("K2.registrations", "K2", "New registrations", "distinct accounts with a sign-up in the period", "accounts", "sign_up (Identity.AccountCreated, apps)", "Identity", UserDims,
            $"SELECT date_trunc('{{grain}}', day), {{dim}}, count(DISTINCT user_id) FROM events WHERE type = 'sign_up' AND {Range} GROUP BY 1, 2"),
        new("K2.dau", "K2", "Daily active users", "distinct users with an event of their own per day, averaged over the period", "users", "any client event", "Analytics", UserDims,
            $"SELECT date_trunc('{{grain}}', day), v, avg(n) FROM (SELECT day, {{dim}} AS v, count(DISTINCT user_id) AS n FROM user_days WHERE {Range} GROUP BY 1, 2) GROUP BY 1, 2"),
        new("K2.dau_mau", "K2", "DAU/MAU", "per day: active users that day / distinct active users in the 30 days ending that day; averaged over the period", "ratio", "any client event", "Analytics", [],
            $"""
            WITH d AS (SELECT day, count(DISTINCT user_id) AS dau FROM user_days WHERE {Range} GROUP BY day),
                 m AS (SELECT d.day, (SELECT count(DISTINCT u.user_id) FROM user_days u WHERE u.day BETWEEN d.day - 29 AND d.day) AS mau FROM d)
            SELECT date_trunc('{"{grain}"}', d.day), 'all', avg(d.dau / m.mau) FROM d JOIN m USING (day) GROUP BY 1, 2
            """),
        new("K2.cac", "K2", "Customer acquisition cost", "marketing spend / new paying customers", "money", "marketing spend", "Marketing", [], null,
            None("no module records marketing spend yet")),
        new("K2.registration_to_paid", "K2", "Registration-to-paid conversion", "accounts that signed up in the period and have paid since / accounts that signed up in the period", "ratio",
            "sign_up, payment (Billing.PaymentSucceeded)", "Billing", UserDims,
            $"""
            SELECT date_trunc('{"{grain}"}', s.day), {"{dim}"}, count(DISTINCT p.user_id) / count(DISTINCT s.user_id)
            FROM (SELECT * FROM events WHERE type = 'sign_up' AND {Range}) s LEFT JOIN (SELECT DISTINCT user_id FROM events WHERE type = 'payment') p USING (user_id)
            GROUP BY 1, 2
            """),

        // K3 Engagement & retention
        new("K3.watch_time_per_user_day", "K3", "Watch time per active user per day", "watch time (first frame to last heartbeat, less stalls) / active user-days, in minutes", "min",
            "first_frame, heartbeat, end, rebuffer_end", "Analytics", UserDims,
            $"""
            WITH w AS (SELECT day, {"{dim}"} AS v, sum(watch_s) AS s FROM sessions WHERE {Range} GROUP BY 1, 2),
                 a AS (SELECT day, {"{dim}"} AS v, count(*) AS n FROM user_days WHERE {Range} GROUP BY 1, 2)
            SELECT date_trunc('{"{grain}"}', a.day), a.v, coalesce(sum(w.s), 0) / 60.0 / sum(a.n) FROM a LEFT JOIN w USING (day, v) GROUP BY 1, 2
            """),
        new("K3.watch_time_per_session", "K3", "Watch time per session", "watch time / sessions that showed a first frame, in minutes", "min", "first_frame, heartbeat, end", "Analytics", SessionDims,
            Rollup("sum(watch_s) / 60.0 / nullif(sum(started), 0)")),
        new("K3.sessions_per_user", "K3", "Sessions per user", "sessions that showed a first frame / distinct viewers in the period", "sessions", "first_frame", "Analytics", SessionDims,
            $"SELECT date_trunc('{{grain}}', day), {{dim}}, count(*) FILTER (WHERE started) / nullif(count(DISTINCT user_id) FILTER (WHERE started), 0) FROM sessions WHERE {Range} GROUP BY 1, 2"),
        new("K3.retention_d7", "K3", "Day-7 retention", "accounts that signed up in the period and were active 7 to 13 days later / accounts that signed up in the period", "ratio",
            "sign_up, any client event", "Analytics", [],
            """
            WITH s AS (SELECT user_id, min(day) AS d0 FROM events WHERE type = 'sign_up' GROUP BY user_id)
            SELECT date_trunc('{grain}', s.d0), 'all',
                   avg(CASE WHEN EXISTS (SELECT 1 FROM user_days u WHERE u.user_id = s.user_id AND u.day BETWEEN s.d0 + 7 AND s.d0 + 13) THEN 1.0 ELSE 0.0 END)
            FROM s WHERE s.d0 BETWEEN CAST($from AS DATE) AND CAST($to AS DATE) GROUP BY 1, 2
            """),
        new("K3.churn_rate", "K3", "Churn rate", "subscribers paying (active or past due) at the period's start who are not at its end / subscribers paying at its start", "ratio",
            "subscription (Billing.SubscriptionChanged)", "Billing", [],
            SubscriberStates("{grain}") + $"SELECT p, 'all', count(*) FILTER (WHERE s0 IN {Paying} AND coalesce(s1, '') NOT IN {Paying}) / nullif(count(*) FILTER (WHERE s0 IN {Paying}), 0) FROM st GROUP BY 1, 2"),

        // K4 Subscription & revenue
        new("K4.paying_subscribers", "K4", "Paying subscribers", "accounts whose subscription is active or past due at the period's end", "accounts",
            "subscription (Billing.SubscriptionChanged)", "Billing", [],
            SubscriberStates("{grain}") + $"SELECT p, 'all', count(*) FILTER (WHERE s1 IN {Paying}) FROM st GROUP BY 1, 2"),
        new("K4.renewal_rate", "K4", "Renewal rate", "subscribers paying at the period's start still paying at its end / subscribers paying at its start (1 - churn)", "ratio",
            "subscription (Billing.SubscriptionChanged)", "Billing", [],
            SubscriberStates("{grain}") + $"SELECT p, 'all', count(*) FILTER (WHERE s0 IN {Paying} AND s1 IN {Paying}) / nullif(count(*) FILTER (WHERE s0 IN {Paying}), 0) FROM st GROUP BY 1, 2"),
        new("K4.revenue", "K4", "Total revenue", "payments less refunds in the period, tax included, in major units; never summed across currencies: "
            + "per currency (the dimension carries the ISO 4217 code) unless Marquee:Analytics:ExchangeRates names a reporting currency and rates, then "
            + "converted into it (a currency without a rate stays apart, marked 'no rate')", "money",
            "payment (Billing.PaymentSucceeded)", "Billing", ["country", "plan"],
            $"SELECT date_trunc('{{grain}}', day), {{money_dim}}, sum(CASE WHEN code = 'refund' THEN -amount ELSE amount END * {{rate}}) / 100.0 FROM events WHERE type = 'payment' AND {Range} GROUP BY 1, 2"),
        new("K4.arpu", "K4", "ARPU", "revenue in the period / distinct active users in the period; per currency or converted, as K4.revenue", "money", "payment, any client event", "Billing", [],
            $"""
            WITH r AS (SELECT date_trunc('{"{grain}"}', day) AS p, {"{money_dim}"} AS c, sum(CASE WHEN code = 'refund' THEN -amount ELSE amount END * {"{rate}"}) / 100.0 AS rev
                       FROM events WHERE type = 'payment' AND {Range} GROUP BY 1, 2),
                 a AS (SELECT date_trunc('{"{grain}"}', day) AS p, count(DISTINCT user_id) AS n FROM user_days WHERE {Range} GROUP BY 1)
            SELECT a.p, coalesce(r.c, 'all'), coalesce(r.rev, 0) / a.n FROM a LEFT JOIN r USING (p)
            """),

        // K5 Ads & monetisation
        new("K5.fill_rate", "K5", "Ad fill rate", "ad slots filled / ad slots requested", "ratio", "ad events", "Ads", [], null, None("there is no ads module yet")),
        new("K5.cpm", "K5", "RPM/CPM", "ad revenue per thousand impressions", "money", "ad events", "Ads", [], null, None("there is no ads module yet")),
        new("K5.ctr", "K5", "Ad click-through rate", "ad clicks / ad impressions", "ratio", "ad events", "Ads", [], null, None("there is no ads module yet")),
        new("K5.ad_revenue_share", "K5", "Ad share of revenue", "ad revenue / total revenue", "ratio", "ad events, payment", "Ads", [], null, None("there is no ads module yet")),

        // K6 Technology & performance
        new("K6.time_to_start", "K6", "Time to start playback", "mean of first_frame.ms (play request to first frame)", "ms", "first_frame", "Analytics", SessionDims,
            Rollup("sum(tts_ms_sum) / nullif(sum(tts_n), 0)")),
        new("K6.rebuffering_ratio", "K6", "Rebuffering ratio", "stall time / (watch time + stall time)", "ratio", "rebuffer_end, heartbeat", "Analytics", SessionDims,
            Rollup("sum(rebuffer_ms) / nullif(sum(watch_s) * 1000.0 + sum(rebuffer_ms), 0)")),
        new("K6.rebuffer_frequency", "K6", "Rebuffering frequency", "stalls per hour watched", "per h", "rebuffer_start, heartbeat", "Analytics", SessionDims,
            Rollup("sum(rebuffers) / nullif(sum(watch_s) / 3600.0, 0)")),
        new("K6.cmcd_starvation", "K6", "Buffer starvation at segment requests (CMCD)", "segment requests whose CMCD says the buffer was empty (bs) / segment requests with CMCD",
            "ratio", "cmcd (Delivery's segment requests, CTA-5004)", "Analytics", ["device", "country", "plan"],
            $"SELECT date_trunc('{{grain}}', day), {{dim}}, count(*) FILTER (WHERE starved) / count(*) FROM events WHERE type = 'cmcd' AND {Range} GROUP BY 1, 2"),
        new("K6.cmcd_throughput", "K6", "Measured throughput (CMCD)", "mean of the throughput the player measured (CMCD mtp) over segment requests that carried it, kbit/s",
            "kbit/s", "cmcd (Delivery's segment requests, CTA-5004)", "Analytics", ["device", "country", "plan"],
            $"SELECT date_trunc('{{grain}}', day), {{dim}}, avg(throughput) FROM events WHERE type = 'cmcd' AND throughput IS NOT NULL AND {Range} GROUP BY 1, 2"),
        new("K6.cmcd_buffer", "K6", "Buffer length at segment requests (CMCD)", "mean of the buffer length the player reported (CMCD bl), ms",
            "ms", "cmcd (Delivery's segment requests, CTA-5004)", "Analytics", ["device", "country", "plan"],
            $"SELECT date_trunc('{{grain}}', day), {{dim}}, avg(buffer_ms) FROM events WHERE type = 'cmcd' AND buffer_ms IS NOT NULL AND {Range} GROUP BY 1, 2"),
        new("K6.cdn_hit_ratio", "K6", "CDN hit ratio", "requests served from a CDN cache / requests", "ratio", "CDN logs", "Delivery", [], null, None("no CDN logs are collected yet")),
        new("K6.availability", "K6", "Availability", "minutes the service answered its health check / minutes", "ratio", "uptime probes", "Platform", [], null, None("no uptime probe records yet")),

        // K7 User experience
        new("K7.crash_rate", "K7", "App crash rate", "crash events / app sessions (session_start)", "ratio", "crash, session_start", "Analytics", ["device"],
            $"SELECT date_trunc('{{grain}}', day), {{dim}}, count(*) FILTER (WHERE type = 'crash') / nullif(count(*) FILTER (WHERE type = 'session_start'), 0) FROM events WHERE type IN ('crash', 'session_start') AND {Range} GROUP BY 1, 2"),
        new("K7.nps", "K7", "NPS/CSAT", "promoters - detractors", "score", "surveys", "Support", [], null, None("no survey module yet")),
        new("K7.feedback_volume", "K7", "Feedback volume", "feedback messages", "messages", "feedback", "Support", [], null, None("no feedback module yet")),
        new("K7.recommendation_accuracy", "K7", "Recommendation accuracy", "recommended titles played / recommended titles shown", "ratio", "recommendations", "Recommendations", [], null, None("no recommender yet")),

        // K8 Rights & compliance
        new("K8.infringement_incidents", "K8", "Infringement incidents", "takedown notices received", "notices", "Compliance", "Compliance", [], null, None("Compliance publishes no takedown events yet")),
        new("K8.moderation_pass_rate", "K8", "Moderation pass rate", "items passed / items moderated", "ratio", "moderation", "Compliance", [], null, None("no moderation events yet")),
        new("K8.complaint_resolution_rate", "K8", "Complaint resolution rate", "complaints resolved / complaints", "ratio", "complaints", "Compliance", [], null, None("no complaint events yet")),
        new("K8.audit_pass_rate", "K8", "Compliance audit pass rate", "audits passed / audits", "ratio", "audits", "Compliance", [], null, None("no audit outcome events yet")),

        // K9 Financial efficiency
        new("K9.content_cost", "K9", "Content acquisition cost", "licence fees due in the period", "money", "Rights (licence costs)", "Rights", [], null, None("Rights publishes no cost events yet")),
        new("K9.operating_cost", "K9", "Operating cost", "CDN, servers, staff", "money", "cost records", "Finance", [], null, None("no cost records yet")),
        new("K9.gross_margin", "K9", "Gross margin", "(revenue - cost of revenue) / revenue", "ratio", "payment, costs", "Finance", [], null, None("no cost records yet")),
        new("K9.net_margin", "K9", "Net margin", "(revenue - all costs) / revenue", "ratio", "payment, costs", "Finance", [], null, None("no cost records yet")),

        // K10 Community
        new("K10.comments", "K10", "Comments/danmaku", "comments posted", "comments", "community", "Community", [], null, None("there is no community module yet")),
        new("K10.likes", "K10", "Likes/favourites", "likes and favourites", "likes", "community", "Community", [], null, None("there is no community module yet")),
        new("K10.shares", "K10", "Shares", "shares", "shares", "community", "Community", [], null, None("there is no community module yet")),
        new("K10.interacting_share", "K10", "Share of users who interact", "users who commented, liked or shared / active users", "ratio", "community", "Community", [], null, None("there is no community module yet")),

        // K11 Marketing
        new("K11.campaign_roi", "K11", "Campaign ROI", "(revenue from campaign - spend) / spend", "ratio", "campaigns", "Marketing", [], null, None("no module records campaigns yet")),
        new("K11.conversion_by_channel", "K11", "Conversion by channel", "accounts that signed up from a channel and have paid since / sign-ups from that channel", "ratio",
            "sign_up.channel, payment", "Marketing", ["channel"],
            $"""
            SELECT date_trunc('{"{grain}"}', s.day), coalesce(s.channel, 'unknown'), count(DISTINCT p.user_id) / count(DISTINCT s.user_id)
            FROM (SELECT * FROM events WHERE type = 'sign_up' AND {Range}) s LEFT JOIN (SELECT DISTINCT user_id FROM events WHERE type = 'payment') p USING (user_id)
            GROUP BY 1, 2
            """),
        new("K11.brand_mentions", "K11", "Brand mentions", "mentions found", "mentions", "social listening", "Marketing", [], null, None("no social listening source")),
        new("K11.first_watch_genre", "K11", "First-watch genre of new users", "new users (signed up in the period) whose first started session is of the genre / new users who watched", "ratio",
            "sign_up, first_frame, Catalog", "Analytics", ["genre"],
            """
            WITH s AS (SELECT user_id, min(day) AS d0 FROM events WHERE type = 'sign_up' GROUP BY user_id),
                 f AS (SELECT user_id, arg_min(genre, started_at) AS g FROM sessions WHERE started GROUP BY user_id)
            SELECT date_trunc('{grain}', s.d0) AS p, f.g, count(*) / sum(count(*)) OVER (PARTITION BY date_trunc('{grain}', s.d0))
            FROM s JOIN f USING (user_id) WHERE s.d0 BETWEEN CAST($from AS DATE) AND CAST($to AS DATE) GROUP BY 1, 2
            """),

        // K12 Distribution
        new("K12.distribution_success", "K12", "Distribution success rate to CDN nodes", "successful pushes / pushes", "ratio", "CDN", "Delivery", [], null, None("there are no CDN nodes to distribute to yet")),
        new("K12.bandwidth_utilisation", "K12", "Bandwidth utilisation", "bits delivered / capacity", "ratio", "origin logs", "Delivery", [], null, None("origin bandwidth is not recorded yet")),
        new("K12.error_rate", "K12", "Playback error rate", "player error events / play requests", "ratio", "error, play_request", "Analytics", SessionDims,
            Rollup("sum(errors) / nullif(sum(requested), 0)")),
        new("K12.transcode_throughput", "K12", "Transcoding throughput", "assets that became ready in the period", "assets", "asset_ready (Media.AssetReady)", "Media", [],
            $"SELECT date_trunc('{{grain}}', day), 'all', count(*) FROM events WHERE type = 'asset_ready' AND {Range} GROUP BY 1, 2"),
    ];

    public static MetricDefinition? Find(string id) => All.FirstOrDefault(m => string.Equals(m.Id, id, StringComparison.OrdinalIgnoreCase));

    /// <summary>The SQL of a metric for a grain and a dimension ('all' when none).</summary>
    public static string SqlFor(MetricDefinition m, string grain, string by, ExchangeRateOptions? rates = null)
    {
        var column = by switch
        {
            "all" => "'all'",
            "title" => Pipeline.Dimensions["title"],
            "channel" or "genre" => $"coalesce({by}, 'unknown')",
            _ => $"coalesce(CAST({by} AS VARCHAR), 'unknown')",
        };
        if (m.Id == "K1.new_content" && by != "all")
        {
            column = "coalesce(t.genre, 'unknown')";
        }

        var (rate, moneyDim) = Money(rates, column, by);
        return m.Sql!.Replace("{grain}", grain, StringComparison.Ordinal).Replace("{money_dim}", moneyDim, StringComparison.Ordinal)
            .Replace("{rate}", rate, StringComparison.Ordinal).Replace("{dim}", column, StringComparison.Ordinal);
    }

    /// <summary>
    /// Money never adds up across currencies: without rates the dimension carries the currency ("EUR", "FR EUR"); with a
    /// reporting currency and rates, amounts are converted and a currency without a rate stays apart ("USD (no rate)").
    /// Rates come from configuration; only ISO 4217-shaped codes and numbers go into the SQL.
    /// </summary>
    private static (string Rate, string Dim) Money(ExchangeRateOptions? rates, string column, string by)
    {
        static bool Code(string c) => c.Length == 3 && c.All(char.IsAsciiLetterUpper);
        var withCurrency = by == "all" ? "coalesce(currency, '?')" : $"{column} || ' ' || coalesce(currency, '?')";
        var target = rates?.Currency.ToUpperInvariant() ?? "";
        if (!Code(target))
        {
            return ("1", withCurrency);
        }

        var known = (rates!.Rates ?? []).Where(r => Code(r.Key.ToUpperInvariant()) && r.Value > 0 && r.Key.ToUpperInvariant() != target)
            .ToDictionary(r => r.Key.ToUpperInvariant(), r => r.Value);
        known[target] = 1m;
        var cases = string.Join(" ", known.Select(r => $"WHEN '{r.Key}' THEN {r.Value.ToString(CultureInfo.InvariantCulture)}"));
        var list = string.Join(", ", known.Keys.Select(k => $"'{k}'"));
        return ($"(CASE currency {cases} ELSE 1 END)", $"CASE WHEN currency IN ({list}) THEN {column} ELSE {withCurrency} || ' (no rate)' END");
    }

    public static string ToCsv(MetricsAnswer answer)
    {
        var sb = new StringBuilder("metric,period,dimension,value,status\n");
        foreach (var m in answer.Metrics)
        {
            if (m.Points.Count == 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{m.Id},,,,{Quote(m.Status)}\n");
            }

            foreach (var p in m.Points)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{m.Id},{p.Period},{Quote(p.Dimension)},{p.Value?.ToString("R", CultureInfo.InvariantCulture)},ok\n");
            }
        }

        return sb.ToString();
    }

    private static string Quote(string s) => s.Contains(',', StringComparison.Ordinal) || s.Contains('"', StringComparison.Ordinal) ? $"\"{s.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : s;
}
