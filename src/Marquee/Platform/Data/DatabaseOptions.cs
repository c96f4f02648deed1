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

    public static bool TryParseProvider(string? value, out DatabaseProvider provider) =>
        Enum.TryParse(value, ignoreCase: true, out provider) && Enum.IsDefined(provider);
}
