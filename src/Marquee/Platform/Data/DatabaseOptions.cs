namespace Marquee.Platform.Data;

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

/// <summary>Bound from <c>Marquee:Database</c>; the connection string comes from <c>ConnectionStrings:Marquee</c>.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Marquee:Database";

    /// <summary><c>Sqlite</c> (embedded default) or <c>Postgres</c>. Kept as text so that a wrong value gets a readable error.</summary>
    public string Provider { get; set; } = nameof(DatabaseProvider.Sqlite);

    /// <summary>Apply pending migrations when <c>serve</c> starts. Defaults to true on SQLite, false on PostgreSQL (run <c>marquee db migrate</c>).</summary>
    public bool? MigrateOnStart { get; set; }

    /// <summary>
    /// PostgreSQL: how many times a command or SaveChanges that failed with a transient error (the server restarting,
    /// a broken connection) is retried before the caller gets 503 (R5). 0 turns retries off. Work inside an explicit
    /// transaction is not retried by this; it fails and is retried by its caller (outbox, job queue, client).
    /// </summary>
    public int MaxRetryCount { get; set; } = 6;

    /// <summary>PostgreSQL: the longest wait between two retries (they start near 1 s and double, randomised).</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    public static bool TryParseProvider(string? value, out DatabaseProvider provider) =>
        Enum.TryParse(value, ignoreCase: true, out provider) && Enum.IsDefined(provider);
}
