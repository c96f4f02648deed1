namespace Marquee.Tests.Support;

/// <summary>A data folder and a database that may outlive one host, so that a test can restart the platform on them.</summary>
public sealed class TestStorage : IAsyncDisposable
{
    private TestStorage(TestDatabase database, string dataDir)
    {
        Database = database;
        DataDir = dataDir;
    }

    public TestDatabase Database { get; }

    public string DataDir { get; }

    /// <summary>A new data folder and database, migrated (a copy of <see cref="MigratedTemplate"/>) unless <paramref name="migrated"/> is false.</summary>
    public static async Task<TestStorage> CreateAsync(bool migrated = true)
    {
        var database = await TestDatabase.CreateAsync(migrated);
        var dataDir = Path.Combine(Path.GetTempPath(), "marquee-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDir);
        if (migrated && database.ConnectionString is null)
        {
            File.Copy(await MigratedTemplate.SqliteFileAsync(), Path.Combine(dataDir, "marquee.db"));
        }

        return new TestStorage(database, dataDir);
    }

    public IDictionary<string, string?> Settings() => new Dictionary<string, string?>(Database.Settings())
    {
        ["Marquee:DataDir"] = DataDir,
    };

    /// <summary>The same settings as environment variables, for a host started as a separate process.</summary>
    public IDictionary<string, string?> Environment() => Settings()
        .ToDictionary(kv => kv.Key.Replace(":", "__", StringComparison.Ordinal), kv => kv.Value);

    public async ValueTask DisposeAsync()
    {
        await Database.DisposeAsync();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder: best effort.
        }
    }
}
