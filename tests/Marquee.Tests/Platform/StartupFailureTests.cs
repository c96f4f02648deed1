using System.Net;
using System.Net.Sockets;
using Marquee.Tests.Support;

namespace Marquee.Tests.Platform;

/// <summary>Bad configuration ends start-up with one readable line per problem and a non-zero exit code, never a stack trace.</summary>
[Trait("Category", "ProviderFree")] // nothing here depends on the database provider: the SQLite pass only
public sealed class StartupFailureTests
{
    private static void AssertReadable(string stderr, string expected)
    {
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_WhenProviderUnknown_ExitsWith2AndOneLine()
    {
        var dataDir = Directory.CreateTempSubdirectory("marquee-bad-").FullName;
        var (code, _, stderr) = await MarqueeProcess.RunAsync(["serve", "--urls", "http://127.0.0.1:0", $"--Marquee:DataDir={dataDir}", "--Marquee:Database:Provider=Oracle"]);

        Assert.Equal(2, code);
        AssertReadable(stderr, "marquee: Marquee:Database:Provider 'Oracle' is not known; use Sqlite or Postgres.");
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Serve_WhenDataDirUnwritable_ExitsWith2()
    {
        // A folder below a regular file can never be created, even by root.
        var file = Path.GetTempFileName();
        var (code, _, stderr) = await MarqueeProcess.RunAsync(["serve", "--urls", "http://127.0.0.1:0", $"--Marquee:DataDir={file}/data"]);

        Assert.Equal(2, code);
        AssertReadable(stderr, $"marquee: Marquee:DataDir '{file}/data' is not a writable folder");
    }

    [Fact]
    public async Task Serve_WhenSeveralProblems_ReportsEachOnItsOwnLine()
    {
        var file = Path.GetTempFileName();
        var (code, _, stderr) = await MarqueeProcess.RunAsync(["serve", "--urls", "ftp://example", $"--Marquee:DataDir={file}/x", "--Marquee:Roles=web,janitor", "--Marquee:Database:Provider=Postgres"]);

        Assert.Equal(2, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.All(lines, l => Assert.StartsWith("marquee: ", l, StringComparison.Ordinal));
        AssertReadable(stderr, "'janitor' is not a role");
        AssertReadable(stderr, "ConnectionStrings:Marquee is required when Marquee:Database:Provider is Postgres.");
        AssertReadable(stderr, "'ftp://example' is not an http:// or https:// address");
    }

    [Fact]
    public async Task Serve_WhenPostgresUnreachable_ExitsWith3AndSaysWhere()
    {
        var dataDir = Directory.CreateTempSubdirectory("marquee-pg-").FullName;
        var port = MarqueeProcess.FreePort(); // nothing listens there
        var (code, _, stderr) = await MarqueeProcess.RunAsync(
            ["serve", "--urls", "http://127.0.0.1:0", $"--Marquee:DataDir={dataDir}", "--Marquee:Database:Provider=Postgres", "--Marquee:Database:MigrateOnStart=true"],
            new Dictionary<string, string?> { ["ConnectionStrings__Marquee"] = $"Host=127.0.0.1;Port={port};Username=marquee;Password=secret;Timeout=3" });

        Assert.Equal(3, code);
        AssertReadable(stderr, $"marquee: Cannot reach the database (PostgreSQL at 127.0.0.1:{port}");
        Assert.DoesNotContain("secret", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Serve_WhenPortInUse_ExitsWith3AndNamesTheAddress()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;
        var dataDir = Directory.CreateTempSubdirectory("marquee-port-").FullName;

        var (code, _, stderr) = await MarqueeProcess.RunAsync(["serve", "--urls", $"http://127.0.0.1:{port}", $"--Marquee:DataDir={dataDir}"]);

        Assert.Equal(3, code);
        AssertReadable(stderr, $"127.0.0.1:{port}");
        Assert.Contains("address already in use", stderr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Help_WhenAsked_ListsTheCommands()
    {
        var (code, stdout, _) = await MarqueeProcess.RunAsync(["--help"]);

        Assert.Equal(0, code);
        Assert.Contains("serve", stdout, StringComparison.Ordinal);
        Assert.Contains("demo", stdout, StringComparison.Ordinal);
        Assert.Contains("db", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DbMigrate_WhenRunTwice_AppliesThenSaysUpToDate()
    {
        var dataDir = Directory.CreateTempSubdirectory("marquee-migrate-").FullName;

        var first = await MarqueeProcess.RunAsync(["db", "migrate", $"--Marquee:DataDir={dataDir}"]);
        var second = await MarqueeProcess.RunAsync(["db", "migrate", $"--Marquee:DataDir={dataDir}"]);
        var status = await MarqueeProcess.RunAsync(["db", "status", $"--Marquee:DataDir={dataDir}"]);

        Assert.Equal(0, first.ExitCode);
        Assert.Contains("catalog: ", first.Stdout, StringComparison.Ordinal);
        Assert.Contains("compliance: ", first.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, second.ExitCode);
        Assert.Contains("Database is up to date", second.Stdout, StringComparison.Ordinal);
        Assert.Contains("Database is up to date", status.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dataDir, "marquee.db")));
    }
}
