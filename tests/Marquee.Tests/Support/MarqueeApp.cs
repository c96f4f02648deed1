using System.Net.Http.Json;
using Marquee.Platform.Data;
using Marquee.Platform.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Support;

/// <summary>
/// The real Marquee host on a free loopback port (Kestrel, the whole pipeline), with its own data folder and database.
/// </summary>
public sealed class MarqueeApp : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly TestDatabase database;
    private readonly bool ownsDataDir;

    private MarqueeApp(WebApplication app, TestDatabase database, string dataDir, bool ownsDataDir, Uri baseAddress)
    {
        this.app = app;
        this.database = database;
        this.ownsDataDir = ownsDataDir;
        DataDir = dataDir;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress };
    }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public string DataDir { get; }

    public IServiceProvider Services => app.Services;

    public static async Task<MarqueeApp> StartAsync(
        Action<IDictionary<string, string?>>? configure = null,
        Action<IServiceCollection>? services = null,
        string environment = "Production")
    {
        var database = await TestDatabase.CreateAsync();
        var dataDir = Path.Combine(Path.GetTempPath(), "marquee-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDir);
        var settings = new Dictionary<string, string?>(database.Settings())
        {
            ["Marquee:DataDir"] = dataDir,
            ["urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:Console:FormatterName"] = "simple",
            ["Marquee:Events:PollInterval"] = "00:00:00.100",
            ["Marquee:Events:RetryBaseDelay"] = "00:00:00.050",
        };
        configure?.Invoke(settings);

        var builder = MarqueeHost.CreateBuilder([$"--environment={environment}"], settings);
        services?.Invoke(builder.Services);
        var app = MarqueeHost.Build(builder);
        await app.Services.GetRequiredService<DatabaseMigrator>().MigrateAsync(CancellationToken.None);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new MarqueeApp(app, database, dataDir, ownsDataDir: true, new Uri(address));
    }

    public async Task<T> ScopedAsync<T>(Func<IServiceProvider, Task<T>> action)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await action(scope.ServiceProvider);
    }

    public async Task<HttpResponseMessage> PostJsonAsync<T>(string path, T body) => await Client.PostAsJsonAsync(path, body);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
        await database.DisposeAsync();
        if (ownsDataDir)
        {
            try
            {
                Directory.Delete(DataDir, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a temp folder.
            }
        }
    }
}
