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
    private readonly TestStorage storage;
    private readonly bool ownsStorage;

    private MarqueeApp(WebApplication app, TestStorage storage, bool ownsStorage, Uri baseAddress)
    {
        this.app = app;
        this.storage = storage;
        this.ownsStorage = ownsStorage;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress };
    }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public string DataDir => storage.DataDir;

    public TestStorage Storage => storage;

    public IServiceProvider Services => app.Services;

    public static async Task<MarqueeApp> StartAsync(
        Action<IDictionary<string, string?>>? configure = null,
        Action<IServiceCollection>? services = null,
        string environment = "Production",
        TestStorage? storage = null)
    {
        var ownsStorage = storage is null;
        storage ??= await TestStorage.CreateAsync();
        var settings = new Dictionary<string, string?>(storage.Settings())
        {
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
        return new MarqueeApp(app, storage, ownsStorage, new Uri(address));
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
        if (ownsStorage)
        {
            await storage.DisposeAsync();
        }
    }
}
