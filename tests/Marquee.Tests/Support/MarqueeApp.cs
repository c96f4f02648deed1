using System.Net;
using System.Net.Http.Json;
using Marquee.Identity;
using Marquee.Platform.Data;
using Marquee.Platform.Hosting;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Support;

/// <summary>
/// The real Marquee host on a free loopback port (Kestrel, the whole pipeline), with its own data folder and database.
/// <see cref="Client"/> is signed in as an admin created at start; <see cref="AnonymousClient"/> is not signed in;
/// <see cref="ClientWithRolesAsync"/> signs in a new account with the given roles.
/// </summary>
public sealed class MarqueeApp : IAsyncDisposable
{
    /// <summary>The e-mail of the admin <see cref="Client"/> is signed in as.</summary>
    public const string AdminEmail = "admin@marquee.test";

    private readonly WebApplication app;
    private readonly TestStorage storage;
    private readonly bool ownsStorage;
    private readonly List<HttpClient> clients = [];

    private MarqueeApp(WebApplication app, TestStorage storage, bool ownsStorage, Uri baseAddress)
    {
        this.app = app;
        this.storage = storage;
        this.ownsStorage = ownsStorage;
        BaseAddress = baseAddress;
        AnonymousClient = Track(new HttpClient(Handler(new CookieContainer())) { BaseAddress = baseAddress });
        Client = AnonymousClient;
    }

    public Uri BaseAddress { get; }

    /// <summary>Signed in as the admin <see cref="AdminEmail"/> (anonymous on a process without the web role).</summary>
    public HttpClient Client { get; private set; }

    /// <summary>Not signed in.</summary>
    public HttpClient AnonymousClient { get; }

    /// <summary>
    /// The admin's session cookie as a <c>Cookie</c> request header value (<c>__Host-marquee=...</c>), for clients that are
    /// not .NET (the tus node client takes it in MARQUEE_TUS_HEADERS as <c>{"Cookie": "..."}</c>).
    /// </summary>
    public string AuthCookieHeader { get; private set; } = "";

    public string AdminPassword { get; } = Accounts.RandomPassword();

    /// <summary>The account id of the admin <see cref="Client"/> is signed in as (its playback sessions carry it).</summary>
    public Guid AdminId { get; private set; }

    public string DataDir => storage.DataDir;

    public TestStorage Storage => storage;

    public IServiceProvider Services => app.Services;

    public static async Task<MarqueeApp> StartAsync(
        Action<IDictionary<string, string?>>? configure = null,
        Action<IServiceCollection>? services = null,
        string environment = "Production",
        TestStorage? storage = null,
        Action<WebApplication>? endpoints = null)
    {
        var ownsStorage = storage is null;
        storage ??= await TestStorage.CreateAsync();
        var settings = new Dictionary<string, string?>(storage.Settings())
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:Console:FormatterName"] = "simple",
            // In-process publishes wake the dispatcher at once and retries wake it when due; the poll only finds what other
            // processes wrote (a CLI command on the same storage), so it need not be short.
            ["Marquee:Events:PollInterval"] = "00:00:01",
            ["Marquee:Events:RetryBaseDelay"] = "00:00:00.050",
            // Every test signs in from 127.0.0.1; the rate-limit tests set their own figure.
            ["Marquee:Identity:RequestsPerMinutePerIp"] = "10000",
        };
        configure?.Invoke(settings);

        var builder = MarqueeHost.CreateBuilder([$"--environment={environment}"], settings);
        services?.Invoke(builder.Services);
        var app = MarqueeHost.Build(builder);
        endpoints?.Invoke(app); // test-only endpoints beside the app's own (the cross-account walk's broken variants)
        await app.Services.GetRequiredService<DatabaseMigrator>().MigrateAsync(CancellationToken.None);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var started = new MarqueeApp(app, storage, ownsStorage, new Uri(address));
        var roles = settings.TryGetValue("Marquee:Roles", out var r) && r is not null ? r : "web,worker";
        if (roles.Contains("web", StringComparison.OrdinalIgnoreCase))
        {
            started.AdminId = await started.CreateAccountAsync(AdminEmail, started.AdminPassword, [Roles.Admin]);
            started.AuthCookieHeader = await started.SignInAsync(AdminEmail, started.AdminPassword);
            started.Client = started.ClientWith(started.AuthCookieHeader);
        }

        return started;
    }

    /// <summary>A client signed in as a new account (a fresh e-mail) with these roles; <c>viewer</c> when none are given.</summary>
    public async Task<HttpClient> ClientWithRolesAsync(params string[] roles)
    {
        var (_, cookie) = await AccountWithRolesAsync(roles);
        return ClientWith(cookie);
    }

    /// <summary>A new account with these roles (<c>viewer</c> when none), signed in: its id and its session cookie header.</summary>
    public async Task<(Guid Id, string CookieHeader)> AccountWithRolesAsync(params string[] roles)
    {
        var email = $"{(roles.Length == 0 ? Roles.Viewer : string.Join("-", roles))}-{Guid.NewGuid():N}@marquee.test";
        var password = Accounts.RandomPassword();
        var id = await CreateAccountAsync(email, password, roles.Length == 0 ? [Roles.Viewer] : roles);
        return (id, await SignInAsync(email, password));
    }

    /// <summary>Creates an account directly (no sign-up, no e-mail); one that exists (a restart on the same storage) gets the password.</summary>
    public async Task<Guid> CreateAccountAsync(string email, string password, IEnumerable<string> roles) => await ScopedAsync(async sp =>
    {
        var accounts = sp.GetRequiredService<Accounts>();
        if (await accounts.FindAsync(email) is { } existing)
        {
            if (await accounts.ResetPasswordAsync(existing, password) is { } failed)
            {
                throw new InvalidOperationException(failed);
            }

            await accounts.AddRolesAsync(existing, roles);
            return existing.Id;
        }

        var (account, problem) = await accounts.CreateAsync(email, password, roles, CancellationToken.None);
        return account?.Id ?? throw new InvalidOperationException(problem);
    });

    /// <summary>Signs in through the API and returns the session cookie as a <c>Cookie</c> header value.</summary>
    public async Task<string> SignInAsync(string email, string password, string? code = null)
    {
        // The device cookie marks the test client as a browser that signed in before: no new-device event per test.
        using var signIn = new HttpClient(new HttpClientHandler { UseCookies = false, ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator }) { BaseAddress = BaseAddress };
        signIn.DefaultRequestHeaders.Add("Cookie", "__Host-marquee-device=marquee-tests");
        var response = await signIn.PostAsJsonAsync("/api/identity/signin", new { email, password, code });
        if (response.StatusCode != HttpStatusCode.NoContent)
        {
            throw new InvalidOperationException($"Sign-in of {email} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return SessionCookie(response);
    }

    /// <summary>The session cookie(s) a response sets, as a <c>Cookie</c> header value.</summary>
    public static string SessionCookie(HttpResponseMessage response)
    {
        var pairs = (response.Headers.TryGetValues("Set-Cookie", out var values) ? values : [])
            .Select(c => c.Split(';')[0])
            .Where(c => c.StartsWith("__Host-marquee=", StringComparison.Ordinal) || c.StartsWith("__Host-marqueeC", StringComparison.Ordinal))
            .ToList();
        return pairs.Count > 0 ? string.Join("; ", pairs) : throw new InvalidOperationException("The response set no session cookie.");
    }

    /// <summary>
    /// A client that sends this cookie header on every request and keeps the cookies the host sets (antiforgery).
    /// The host's cookies are Secure; on plain-HTTP loopback they go into the client's container as not Secure.
    /// </summary>
    public HttpClient ClientWith(string cookieHeader)
    {
        var container = new CookieContainer();
        foreach (var pair in cookieHeader.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            container.Add(BaseAddress, new Cookie(pair[..eq], pair[(eq + 1)..], "/"));
        }

        return Track(new HttpClient(Handler(container)) { BaseAddress = BaseAddress });
    }

    /// <summary>Over HTTPS the host has a self-signed test certificate (HttpsTests): the test clients accept it.</summary>
    private static HttpClientHandler Handler(CookieContainer cookies) => new()
    {
        CookieContainer = cookies,
        ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
    };

    public async Task<T> ScopedAsync<T>(Func<IServiceProvider, Task<T>> action)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await action(scope.ServiceProvider);
    }

    public async Task<HttpResponseMessage> PostJsonAsync<T>(string path, T body) => await Client.PostAsJsonAsync(path, body);

    private HttpClient Track(HttpClient client)
    {
        lock (clients)
        {
            clients.Add(client);
        }

        return client;
    }

    public async ValueTask DisposeAsync()
    {
        lock (clients)
        {
            clients.ForEach(c => c.Dispose());
        }

        await app.StopAsync();
        await app.DisposeAsync();
        if (ownsStorage)
        {
            await storage.DisposeAsync();
        }
    }
}
