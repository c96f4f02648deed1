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

    /// <summary>
    /// PostgreSQL (R24): the role <c>serve</c> logs in as, when it is not the owner of the schemas. <c>marquee db migrate</c>
    /// (run as the owner) then grants it SELECT, INSERT, UPDATE and DELETE on every module table but only SELECT and INSERT
    /// on the append-only ones (the audit log, the contract history: tables with an <c>*_append_only</c> trigger), SELECT
    /// on the migration histories, and EXECUTE on the module functions (the audit redaction); <c>serve</c> and the other
    /// commands refuse to start when the connection string logs in as another role. Unset: one role does both (triggers only).
    /// </summary>
    public string? AppRole { get; set; }

    public static bool TryParseProvider(string? value, out DatabaseProvider provider) =>
        Enum.TryParse(value, ignoreCase: true, out provider) && Enum.IsDefined(provider);
}
