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

    public static async Task<TestStorage> CreateAsync()
    {
        var database = await TestDatabase.CreateAsync();
        var dataDir = Path.Combine(Path.GetTempPath(), "marquee-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDir);
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
