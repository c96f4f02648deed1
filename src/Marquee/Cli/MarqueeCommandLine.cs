using System.CommandLine;
using System.Data.Common;
using System.Net.Sockets;
using System.Security.Cryptography;
using Marquee.Catalog.Contracts;
using Marquee.Media.Contracts;
using Marquee.Platform;
using Marquee.Platform.Web;
using Marquee.Platform.Data;
using Marquee.Platform.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Marquee.Cli;

/// <summary>The <c>marquee</c> command line. Exit codes: 0 done, 1 failed, 2 bad configuration or usage, 3 a dependency (database, port) is unavailable.</summary>
public static class MarqueeCommandLine
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int BadConfiguration = 2;
    public const int Unavailable = 3;

    public static async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("Marquee: a self-hostable streaming platform (video, music, podcasts). Configuration comes from appsettings.json, Marquee__* environment variables and --Key=value arguments.");

        var serve = new Command("serve", "Run the platform: web site, console, API and background workers (roles by Marquee:Roles).");
        var serveUrls = UrlsOption();
        serve.Options.Add(serveUrls);
        serve.TreatUnmatchedTokensAsErrors = false;
        serve.SetAction((result, ct) => ServeAsync(result, serveUrls, demo: false, ct));

        var demo = new Command("demo", "Run the platform with sample content on the embedded defaults (SQLite, local disk) in ./data/demo.");
        var demoUrls = UrlsOption();
        demo.Options.Add(demoUrls);
        demo.TreatUnmatchedTokensAsErrors = false;
        demo.SetAction((result, ct) => ServeAsync(result, demoUrls, demo: true, ct));

        var db = new Command("db", "Database tasks.");
        var migrate = new Command("migrate", "Apply every module's pending migrations to the configured database.");
        migrate.TreatUnmatchedTokensAsErrors = false;
        migrate.SetAction((result, ct) => MigrateAsync(result, ct));
        var status = new Command("status", "List the migrations not yet applied to the configured database.");
        status.TreatUnmatchedTokensAsErrors = false;
        status.SetAction((result, ct) => StatusAsync(result, ct));
        db.Subcommands.Add(migrate);
        db.Subcommands.Add(status);

        var ingest = new Command("ingest", "Add a media file from this machine to a title (a new one, or --title-id) and queue it for transcoding. Prints the title's id as the last line.");
        var ingestFile = new Argument<FileInfo>("file") { Description = "The video or audio file to ingest." };
        var ingestTitle = new Option<string?>("--title") { Description = "Name of the new title (default: the file name)." };
        var ingestKind = new Option<string>("--kind") { Description = "Kind of the new title.", DefaultValueFactory = _ => "film" };
        ingestKind.AcceptOnlyFromAmong("film", "episode", "track", "podcast");
        var ingestTitleId = new Option<Guid?>("--title-id") { Description = "Add the file to this existing title instead of creating one." };
        var ingestWait = new Option<bool>("--wait") { Description = "Return only when the title is playable (exit 0) or the file was refused or failed (exit 1, reason on stderr)." };
        ingest.Arguments.Add(ingestFile);
        ingest.Options.Add(ingestTitle);
        ingest.Options.Add(ingestKind);
        ingest.Options.Add(ingestTitleId);
        ingest.Options.Add(ingestWait);
        var ingestPriority = new Option<int>("--priority") { Description = "Queue priority, -1000 to 1000 (default 0): the pipeline takes the highest first, then the oldest." };
        ingestPriority.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < -1000 or > 1000)
            {
                r.AddError("--priority must be from -1000 to 1000.");
            }
        });
        ingest.Options.Add(ingestPriority);
        ingest.TreatUnmatchedTokensAsErrors = false;
        ingest.SetAction((result, ct) => IngestAsync(
            result, result.GetValue(ingestFile)!, result.GetValue(ingestTitle), result.GetValue(ingestKind)!, result.GetValue(ingestTitleId), result.GetValue(ingestWait), result.GetValue(ingestPriority), ct));

        var playbackUrl = new Command("playback-url", "Print a signed playback URL (HLS master playlist) of a title, for an operator's player; audited.");
        var titleArgument = new Argument<Guid>("TITLE_ID") { Description = "The title's id." };
        var ttlOption = new Option<string?>("--ttl")
        {
            Description = "How long the URL works (and its session lives without heartbeats): e.g. 90s, 10m, 2h, 1d. Default 10m.",
        };
        playbackUrl.Arguments.Add(titleArgument);
        playbackUrl.Options.Add(ttlOption);
        playbackUrl.TreatUnmatchedTokensAsErrors = false;
        playbackUrl.SetAction((result, ct) => PlaybackUrlAsync(result, titleArgument, ttlOption, ct));

        var rights = new Command("rights", "Licensing tasks.");
        var verify = new Command("verify", "Check every contract's hash-chained history and the head file outside the database; exit 1 naming the contract and entry when one was altered.");
        verify.TreatUnmatchedTokensAsErrors = false;
        verify.SetAction((result, ct) => VerifyRightsAsync(result, ct));
        rights.Subcommands.Add(verify);
        var audit = new Command("audit", "The audit log.");
        var auditVerify = new Command("verify", "Check the audit log's hash chain and the heads recorded outside the database (<DataDir>/compliance/audit-heads.log); exit 1 naming the first line that was edited, deleted, inserted or reordered, or a recorded head the chain no longer holds.");
        auditVerify.TreatUnmatchedTokensAsErrors = false;
        auditVerify.SetAction((result, ct) => VerifyAuditAsync(result, ct));
        audit.Subcommands.Add(auditVerify);
        var billing = new Command("billing", "Billing tasks.");
        var billingVerify = new Command("verify", "Check that the ledger balances and that payments, invoices and subscriptions agree with it; print the totals per account type and currency; exit 1 on any discrepancy.");
        billingVerify.TreatUnmatchedTokensAsErrors = false;
        billingVerify.SetAction((result, ct) => VerifyBillingAsync(result, ct));
        billing.Subcommands.Add(billingVerify);
        var admin = new Command("admin", "Operator accounts.");
        var adminCreate = new Command("create", "Create an account with the admin role. The password is read from standard input (one line), or typed at a prompt.");
        var adminEmail = new Option<string>("--email") { Description = "The admin's e-mail address (the sign-in name).", Required = true };
        var adminPasswordStdin = new Option<bool>("--password-stdin") { Description = "Read the password from standard input (one line) even when it is a terminal." };
        adminCreate.Options.Add(adminEmail);
        adminCreate.Options.Add(adminPasswordStdin);
        adminCreate.TreatUnmatchedTokensAsErrors = false;
        adminCreate.SetAction((result, ct) => AdminCreateAsync(result, result.GetValue(adminEmail)!, result.GetValue(adminPasswordStdin), ct));
        admin.Subcommands.Add(adminCreate);

        var kpi = new Command("kpi", "Print metrics of the catalogue K1-K12: asks the running server, else reads the analytics warehouse read-only.");
        var kpiFrom = new Option<string?>("--from") { Description = "First day, yyyy-MM-dd (default: 29 days ago)." };
        var kpiTo = new Option<string?>("--to") { Description = "Last day, yyyy-MM-dd (default: today)." };
        var kpiMetric = new Option<string?>("--metric") { Description = "Metric ids, comma-separated (default: all), e.g. K1.completion_rate,K6.time_to_start." };
        var kpiGrain = new Option<string>("--grain") { Description = "day, week or month.", DefaultValueFactory = _ => "day" };
        var kpiBy = new Option<string?>("--by") { Description = "A dimension: title, genre, device, country, plan or channel." };
        var kpiUrl = new Option<string?>("--url") { Description = "The running server's address (default: the configured urls, else http://localhost:5080)." };
        var kpiCsv = new Option<bool>("--csv") { Description = "Print CSV." };
        foreach (var o in new Option[] { kpiFrom, kpiTo, kpiMetric, kpiGrain, kpiBy, kpiUrl, kpiCsv })
        {
            kpi.Options.Add(o);
        }

        kpi.TreatUnmatchedTokensAsErrors = false;
        kpi.SetAction((result, ct) => Guard(async () =>
        {
            var builder = MarqueeHost.CreateBuilder(ConfigArgs(result), QuietLogs);
            return await Marquee.Analytics.AnalyticsModule.KpiAsync(builder.Configuration, result.GetValue(kpiUrl), result.GetValue(kpiFrom), result.GetValue(kpiTo),
                result.GetValue(kpiMetric), result.GetValue(kpiGrain)!, result.GetValue(kpiBy), result.GetValue(kpiCsv), Console.Out, Console.Error, ct);
        }));

        var simulate = new Command("simulate", "Drive a simulated audience through the analytics event path (sign-ups, plays, stalls, subscriptions, churn) over the past days.");
        var simViewers = new Option<int>("--viewers") { Description = "Simulated viewers.", DefaultValueFactory = _ => 200 };
        var simDays = new Option<int>("--days") { Description = "Days of history, up to today.", DefaultValueFactory = _ => 30 };
        var simSeed = new Option<int>("--seed") { Description = "Random seed (the same seed and day give the same events).", DefaultValueFactory = _ => 1 };
        simulate.Options.Add(simViewers);
        simulate.Options.Add(simDays);
        simulate.Options.Add(simSeed);
        simulate.TreatUnmatchedTokensAsErrors = false;
        simulate.SetAction((result, ct) => Guard(async () =>
        {
            if (result.GetValue(simViewers) is < 1 or > 100_000 || result.GetValue(simDays) is < 1 or > 365)
            {
                await Console.Error.WriteLineAsync("marquee: --viewers 1-100000, --days 1-365.");
                return BadConfiguration;
            }

            var builder = MarqueeHost.CreateBuilder(ConfigArgs(result), QuietLogs);
            await using var app = MarqueeHost.Build(builder);
            await PrepareDatabaseAsync(app, builder.Configuration, ct);
            return await Marquee.Analytics.AnalyticsModule.SimulateAsync(app.Services, result.GetValue(simViewers), result.GetValue(simDays), result.GetValue(simSeed), Console.Out, ct);
        }));

        var backup = new Command("backup", "Backups of the installation's state (stop the server first).");
        var backupCreate = new Command("create", "Copy the SQLite database (SQLite's backup API), the analytics warehouse, the key ring, the audit and contract head files and the rest of the data folder's state, with a manifest of SHA-256 checksums. Refuses while a server uses the data folder. PostgreSQL: back the database up with pg_dump.");
        var backupTo = new Option<string?>("--to") { Description = "A new (or empty) folder outside the data folder (default: ./marquee-backup-<UTC time>)." };
        var backupMedia = new Option<bool>("--include-media") { Description = "Also copy media (sources, uploads, published renditions, the asset library)." };
        backupCreate.Options.Add(backupTo);
        backupCreate.Options.Add(backupMedia);
        backupCreate.TreatUnmatchedTokensAsErrors = false;
        backupCreate.SetAction((result, ct) => Guard(async () =>
        {
            var builder = MarqueeHost.CreateBuilder(ConfigArgs(result), QuietLogs);
            return await Backups.CreateAsync(builder.Configuration, result.GetValue(backupTo), result.GetValue(backupMedia), Console.Out, Console.Error, ct);
        }));
        var backupRestore = new Command("restore", "Verify a backup's checksums, put it in place of the data folder's state (and the SQLite database), then erase again every account the erasure register names as erased since the backup, before any server starts. Refuses while a server uses the data folder. PostgreSQL: pg_restore the database first.");
        var restoreFrom = new Option<string>("--from") { Description = "The backup's folder (made by 'marquee backup create').", Required = true };
        backupRestore.Options.Add(restoreFrom);
        backupRestore.TreatUnmatchedTokensAsErrors = false;
        backupRestore.SetAction((result, ct) => Guard(async () =>
        {
            var builder = MarqueeHost.CreateBuilder(ConfigArgs(result), QuietLogs);
            return await Backups.RestoreAsync(builder.Configuration, result.GetValue(restoreFrom)!, async () =>
            {
                var app = MarqueeHost.Build(builder);
                await PrepareDatabaseAsync(app, builder.Configuration, ct);
                return app;
            }, Console.Out, Console.Error, ct);
        }));
        backup.Subcommands.Add(backupCreate);
        backup.Subcommands.Add(backupRestore);

        root.Subcommands.Add(serve);
        root.Subcommands.Add(admin);
        root.Subcommands.Add(playbackUrl);
        root.Subcommands.Add(demo);
        root.Subcommands.Add(db);
        root.Subcommands.Add(ingest);
        root.Subcommands.Add(rights);
        root.Subcommands.Add(audit);
        root.Subcommands.Add(billing);
        root.Subcommands.Add(kpi);
        root.Subcommands.Add(simulate);
        root.Subcommands.Add(backup);

        var parsed = root.Parse(args);
        var code = await parsed.InvokeAsync();

        // A usage error (unknown command, missing subcommand) has printed its message and the help: exit 2, not 1.
        return parsed.Errors.Count > 0 && code == Failed ? BadConfiguration : code;
    }

    private static readonly Dictionary<string, string?> QuietLogs = new()
    {
        ["Logging:LogLevel:Default"] = "Warning",
        ["Logging:LogLevel:Marquee"] = "Warning",
        ["Logging:Console:FormatterName"] = "simple",
        // EF Core logs each failed probe (a database or history table not there yet) as an error; the db commands
        // report the outcome themselves, one line on stdout or stderr.
        ["Logging:LogLevel:Microsoft.EntityFrameworkCore.Database.Connection"] = "None",
        ["Logging:LogLevel:Microsoft.EntityFrameworkCore.Database.Command"] = "None",
        ["Logging:LogLevel:Microsoft.AspNetCore.DataProtection"] = "Error",
    };

    private static Option<string?> UrlsOption() => new("--urls")
    {
        Description = "Addresses to listen on, separated by ';' (default http://localhost:5080).",
    };

    private static string[] ConfigArgs(ParseResult result) => [.. result.UnmatchedTokens];

    private static async Task<int> ServeAsync(ParseResult result, Option<string?> urlsOption, bool demo, CancellationToken cancellationToken)
    {
        var overrides = new Dictionary<string, string?>();
        if (result.GetValue(urlsOption) is { } urls)
        {
            overrides["urls"] = urls;
        }

        if (demo)
        {
            overrides["Marquee:Database:Provider"] = nameof(DatabaseProvider.Sqlite);
            overrides["ConnectionStrings:Marquee"] = null;
            overrides["Logging:Console:FormatterName"] = "simple";
            overrides["Logging:Console:FormatterOptions:SingleLine"] = "true";
            if (DemoListensOnLoopbackOnly(result.GetValue(urlsOption) ?? Environment.GetEnvironmentVariable("URLS") ?? Environment.GetEnvironmentVariable("ASPNETCORE_URLS")))
            {
                // The demo listens on plain HTTP on loopback: let its OpenID Connect endpoints (discovery, device flow) answer there.
                overrides["Marquee:Identity:Oidc:AllowHttp"] = "true";
            }
        }

        return await Guard(async () =>
        {
            var builder = MarqueeHost.CreateBuilder(DemoArgs(ConfigArgs(result), demo), overrides);
            await using var app = MarqueeHost.Build(builder);
            app.Services.GetRequiredService<DataFolderLock>().Acquire(); // before the migrations: not during a backup or restore
            await PrepareDatabaseAsync(app, builder.Configuration, cancellationToken);

            if (demo)
            {
                await using var scope = app.Services.CreateAsyncScope();
                foreach (var content in scope.ServiceProvider.GetServices<IDemoContent>())
                {
                    await content.SeedAsync(cancellationToken);
                }
            }

            try
            {
                await app.StartAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is CryptographicException || (ex is InvalidOperationException && ex.Message.Contains("HTTPS", StringComparison.Ordinal)))
            {
                throw new StartupException(
                    $"Cannot listen on HTTPS: {ex.Message.Split('\n')[0].Trim()} Set Kestrel:Certificates:Default:Path and KeyPath to a PEM certificate and key (docs/operations.md).");
            }

            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            var first = addresses.FirstOrDefault() ?? "http://localhost:5080";
            await Console.Out.WriteLineAsync(demo
                ? $"Marquee demo is running. Open {first} (operator console: {first}/console, signed in as the demo admin above). Press Ctrl+C to stop."
                : $"Marquee is listening on {string.Join(", ", addresses)}");
            await app.WaitForShutdownAsync(cancellationToken);
            return Ok;
        });
    }

    /// <summary>True when every address the demo listens on (default http://localhost:5080) is on loopback.</summary>
    internal static bool DemoListensOnLoopbackOnly(string? urls) =>
        (urls ?? "http://localhost:5080").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } all
        && all.All(u => Uri.TryCreate(u, UriKind.Absolute, out var uri)
            && (uri.IsLoopback || string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase)));

    private static string[] DemoArgs(string[] args, bool demo) =>
        demo && !args.Any(a => a.Contains("Marquee:DataDir", StringComparison.OrdinalIgnoreCase)) && Environment.GetEnvironmentVariable("Marquee__DataDir") is null
            ? [.. args, "--Marquee:DataDir=./data/demo"]
            : args;

    private static async Task<int> IngestAsync(ParseResult result, FileInfo file, string? title, string kind, Guid? titleId, bool wait, int priority, CancellationToken cancellationToken) => await Guard(async () =>
    {
        var builder = MarqueeHost.CreateBuilder(ConfigArgs(result), QuietLogs);
        await using var app = MarqueeHost.Build(builder);
        await PrepareDatabaseAsync(app, builder.Configuration, cancellationToken);
        await using var scope = app.Services.CreateAsyncScope();
        var catalog = scope.ServiceProvider.GetRequiredService<ICatalog>();
        var media = scope.ServiceProvider.GetRequiredService<IMediaIngest>();
        if (media.Refusal(file.FullName) is { } refusal)
        {
            throw new StartupException(refusal); // before any title is created
        }

        var actor = new RequestActor($"cli:{Environment.UserName}", null);
        TitleSummary target;
        if (titleId is { } existing)
        {
            target = await catalog.FindAsync(existing, cancellationToken)
                     ?? throw new StartupException($"There is no title {existing}.");
        }
        else
        {
            var draft = new TitleDraft(title ?? Path.GetFileNameWithoutExtension(file.Name), Enum.Parse<TitleKind>(kind, ignoreCase: true));
            try
            {
                target = await catalog.CreateAsync(draft, actor, cancellationToken);
            }
            catch (ArgumentException ex)
            {
                throw new StartupException(ex.Message);
            }
        }

        AssetStatus status;
        try
        {
            status = await media.IngestFileAsync(file.FullName, target.Id, priority, actor, cancellationToken);
        }
        catch (ArgumentException ex)
        {
            throw new StartupException(ex.Message);
        }

        await Console.Out.WriteLineAsync($"Title \"{target.Name}\" ({target.Kind}), asset {status.AssetId}: {status.State}.");
        if (wait)
        {
            var progress = new Progress<string>(state => Console.Error.WriteLine($"marquee: {state}…"));
            status = await media.WaitAsync(status.AssetId, progress, cancellationToken);
            if (status.State != AssetState.Ready)
            {
                await Console.Error.WriteLineAsync($"marquee: {status.State.ToString().ToLowerInvariant()}: {status.Reason}");
                await Console.Out.WriteLineAsync(target.Id.ToString());
                return Failed;
            }

            await Console.Out.WriteLineAsync($"Playable: open /watch/{target.Id}");
        }

        await Console.Out.WriteLineAsync(target.Id.ToString());
        return Ok;
    });

    private static async Task<int> AdminCreateAsync(ParseResult result, string email, bool passwordStdin, CancellationToken cancellationToken) => await Guard(async () =>
    {
        var password = ReadPassword(passwordStdin);
        if (string.IsNullOrEmpty(password))
        {
            await Console.Error.WriteLineAsync("marquee: no password given: pipe it on standard input (echo \"$PASSWORD\" | marquee admin create --email X --password-stdin) or type it at the prompt.");
            return BadConfiguration;
        }

        var builder = MarqueeHost.CreateBuilder(ConfigArgs(result), QuietLogs);
        await using var app = MarqueeHost.Build(builder);
        await PrepareDatabaseAsync(app, builder.Configuration, cancellationToken);
        if (await Identity.IdentityModule.CreateAdminAsync(app.Services, email, password, cancellationToken) is { } problem)
        {
            await Console.Error.WriteLineAsync($"marquee: {problem}");
            return Failed;
        }

        await Console.Out.WriteLineAsync($"Created the admin account {email.Trim()}. Sign in at /signin.");
        return Ok;
    });

    /// <summary>One line from standard input when it is redirected (or asked to), else typed at a prompt without echo.</summary>
    private static string? ReadPassword(bool fromStdin)
    {
        if (fromStdin || Console.IsInputRedirected)
        {
            return Console.In.ReadLine()?.TrimEnd('\r', '\n');
        }

        Console.Error.Write("Password: ");
        var typed = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (typed.Length > 0)
                {
                    typed.Length--;
                }
            }
            else if (!char.IsControl(key.KeyChar))
            {
                typed.Append(key.KeyChar);
            }
        }

        Console.Error.WriteLine();
        return typed.ToString();
    }

    /// <summary>Migrates on the embedded default (or when configured); elsewhere refuses to run on a database with pending migrations.</summary>
    private static async Task PrepareDatabaseAsync(WebApplication app, IConfiguration configuration, CancellationToken cancellationToken)
    {
        var settings = app.Services.GetRequiredService<DatabaseSettings>();
        var migrator = app.Services.GetRequiredService<DatabaseMigrator>();
        if (configuration.GetValue<bool?>("Marquee:Database:MigrateOnStart") ?? settings.Provider == DatabaseProvider.Sqlite)
        {
            await migrator.MigrateAsync(cancellationToken);
            await migrator.CheckAppRoleAsync(cancellationToken);
            return;
        }

        IReadOnlyList<string> pending;
        try
        {
            await migrator.CheckAppRoleAsync(cancellationToken);
            pending = await migrator.PendingAsync(cancellationToken);
        }
        catch (Exception ex) when (DatabaseMigrator.IsUnreachable(ex))
        {
            throw new StartupException($"Cannot reach the database ({settings.Describe()}): {DatabaseMigrator.Innermost(ex).Message}", ex);
        }

        if (pending.Count > 0)
        {
            throw new StartupException($"The database has {pending.Count} migration(s) not applied ({settings.Describe()}); run 'marquee db migrate' first.");
        }
    }

    private static async Task<int> MigrateAsync(ParseResult result, CancellationToken cancellationToken) => await Guard(async () =>
    {
        var builder = MarqueeHost.CreateBuilder(ConfigArgs(result), QuietLogs);
        await using var app = MarqueeHost.Build(builder);
        var settings = app.Services.GetRequiredService<DatabaseSettings>();
        var migrator = app.Services.GetRequiredService<DatabaseMigrator>();
        var applied = await migrator.MigrateAsync(cancellationToken);
        await Console.Out.WriteLineAsync(applied.Count == 0
            ? $"Database is up to date ({settings.Describe()})."
            : $"Applied {applied.Count} migration(s) to {settings.Describe()}:{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", applied)}");
        if (settings.AppRole is not null)
        {
            await Console.Out.WriteLineAsync(migrator.GrantedAppendOnly is { } appendOnly
                ? $"Granted role {settings.AppRole} the app's rights; SELECT and INSERT only on {string.Join(", ", appendOnly)}."
                : $"Connected as the app role {settings.AppRole}: its grants were not refreshed (run this as the owner of the schemas).");
        }
        return Ok;
    });

    private static async Task<int> StatusAsync(ParseResult result, CancellationToken cancellationToken) => await Guard(async () =>
    {
        var builder = MarqueeHost.CreateBuilder(ConfigArgs(result), QuietLogs);
        await using var app = MarqueeHost.Build(builder);
        var settings = app.Services.GetRequiredService<DatabaseSettings>();
        IReadOnlyList<string> pending;
        try
        {
            pending = await app.Services.GetRequiredService<DatabaseMigrator>().PendingAsync(cancellationToken);
        }
        catch (Exception ex) when (DatabaseMigrator.IsUnreachable(ex))
        {
            throw new StartupException($"Cannot reach the database ({settings.Describe()}): {DatabaseMigrator.Innermost(ex).Message}", ex);
        }

        await Console.Out.WriteLineAsync(pending.Count == 0
            ? $"Database is up to date ({settings.Describe()})."
            : $"{pending.Count} migration(s) pending on {settings.Describe()}:{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", pending)}");
        return Ok;
    });

    private static async Task<int> PlaybackUrlAsync(ParseResult result, Argument<Guid> titleArgument, Option<string?> ttlOption, CancellationToken cancellationToken) => await Guard(async () =>
    {
        var ttlText = result.GetValue(ttlOption) ?? "10m";
        if (ParseDuration(ttlText) is not { } ttl || ttl <= TimeSpan.Zero || ttl > TimeSpan.FromDays(30))
        {
            await Console.Error.WriteLineAsync($"marquee: --ttl '{ttlText}' is not a duration between 1s and 30d (e.g. 90s, 10m, 2h).");
            return BadConfiguration;
        }

        // The URL is built from the routes, which exist once the host runs: run it briefly, web role only (no workers
        // take jobs in this process), on a free loopback port; the URL itself names the configured public address.
        var builder = MarqueeHost.CreateBuilder(ConfigArgs(result), new Dictionary<string, string?>(QuietLogs) { ["Marquee:Roles"] = "web" });
        var publicBase = PublicBase(builder.Configuration);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = MarqueeHost.Build(builder);
        await PrepareDatabaseAsync(app, builder.Configuration, cancellationToken);
        await app.StartAsync(cancellationToken);

        var (url, problem) = await Delivery.DeliveryModule.IssueOperatorUrlAsync(
            app.Services, result.GetValue(titleArgument), ttl, publicBase, $"{Environment.UserName}@{Environment.MachineName} (cli)", cancellationToken);
        await app.StopAsync(cancellationToken);
        if (url is null)
        {
            await Console.Error.WriteLineAsync($"marquee: {problem}");
            return Failed;
        }

        await Console.Out.WriteLineAsync($"Valid for {ttlText} (the session ends after that long without heartbeats); audited as delivery.playback-url-issued.");
        await Console.Out.WriteLineAsync(url.ToString());
        return Ok;
    });

    private static async Task<int> VerifyAuditAsync(ParseResult result, CancellationToken cancellationToken) => await Guard(async () =>
    {
        var builder = MarqueeHost.CreateBuilder(ConfigArgs(result), new Dictionary<string, string?>(QuietLogs) { ["Marquee:Roles"] = "web" });
        await using var app = MarqueeHost.Build(builder);
        await PrepareDatabaseAsync(app, builder.Configuration, cancellationToken);
        var (lines, unchained, sequence, hash, problem, anchors, headFile) = await Compliance.ComplianceModule.VerifyAuditAsync(app.Services, cancellationToken);
        var before = unchained > 0 ? $" ({unchained} older line(s) from before the chain, not covered)" : "";
        if (problem is not null)
        {
            await Console.Error.WriteLineAsync($"marquee: tampering: {problem}");
            await Console.Out.WriteLineAsync($"The audit chain is broken after {lines} intact line(s){before}.");
            return Failed;
        }

        await Console.Out.WriteLineAsync($"Intact: {lines} audit line(s) chained{before}; head {sequence} {hash}; {anchors} head(s) recorded in {headFile} found in the chain");
        return Ok;
    });

    private static async Task<int> VerifyRightsAsync(ParseResult result, CancellationToken cancellationToken) => await Guard(async () =>
    {
        var builder = MarqueeHost.CreateBuilder(ConfigArgs(result), new Dictionary<string, string?>(QuietLogs) { ["Marquee:Roles"] = "web" });
        await using var app = MarqueeHost.Build(builder);
        await PrepareDatabaseAsync(app, builder.Configuration, cancellationToken);
        var (contracts, entries, problems, headFile) = await Rights.RightsModule.VerifyAsync(app.Services, cancellationToken);
        if (problems.Count > 0)
        {
            foreach (var problem in problems)
            {
                await Console.Error.WriteLineAsync($"marquee: tampering: {problem}");
            }

            await Console.Out.WriteLineAsync($"{problems.Count} problem(s) in {contracts} contract(s), {entries} history entries (head file {headFile}).");
            return Failed;
        }

        await Console.Out.WriteLineAsync($"Intact: {contracts} contract(s), {entries} history entries, every head matches {headFile}.");
        return Ok;
    });

    private static async Task<int> VerifyBillingAsync(ParseResult result, CancellationToken cancellationToken) => await Guard(async () =>
    {
        var builder = MarqueeHost.CreateBuilder(ConfigArgs(result), new Dictionary<string, string?>(QuietLogs) { ["Marquee:Roles"] = "web" });
        await using var app = MarqueeHost.Build(builder);
        await PrepareDatabaseAsync(app, builder.Configuration, cancellationToken);
        var report = await Billing.BillingModule.VerifyAsync(app.Services, cancellationToken);
        await Console.Out.WriteLineAsync($"{"Type",-10} {"Account",-18} {"Cur",-4} {"Debit",14} {"Credit",14} {"Balance",14}");
        foreach (var t in report.Totals)
        {
            await Console.Out.WriteLineAsync(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{t.Type,-10} {t.Account,-18} {t.Currency,-4} {t.Debit,14} {t.Credit,14} {t.Balance,14}"));
        }

        foreach (var byType in report.Totals.GroupBy(t => (t.Type, t.Currency)))
        {
            await Console.Out.WriteLineAsync(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Total {byType.Key.Type} {byType.Key.Currency}: {byType.Sum(t => t.Balance)} (minor units)"));
        }

        foreach (var problem in report.Problems)
        {
            await Console.Error.WriteLineAsync($"marquee: discrepancy: {problem}");
        }

        await Console.Out.WriteLineAsync($"{report.Transactions} ledger transaction(s), {report.Payments} payment(s), {report.Invoices} invoice(s), {report.Subscriptions} subscription(s): "
            + (report.Problems.Count == 0 ? "balanced and in agreement." : $"{report.Problems.Count} discrepancy(ies)."));
        return report.Problems.Count == 0 ? Ok : Failed;
    });

    /// <summary><c>Marquee:PublicBaseUrl</c>, else the first of <c>urls</c> (a wildcard host read as localhost), else http://localhost:5080.</summary>
    internal static Uri PublicBase(IConfiguration configuration)
    {
        if (configuration["Marquee:PublicBaseUrl"] is { Length: > 0 } configured)
        {
            return new Uri(configured);
        }

        var first = (configuration["urls"] ?? "http://localhost:5080").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "http://localhost:5080";
        foreach (var wildcard in new[] { "://*", "://+", "://0.0.0.0", "://[::]" })
        {
            first = first.Replace(wildcard, "://localhost", StringComparison.Ordinal);
        }

        return new Uri(first);
    }

    /// <summary>90s, 10m, 2h, 1d, or a TimeSpan (00:10:00).</summary>
    internal static TimeSpan? ParseDuration(string text)
    {
        text = text.Trim();
        if (text.Length >= 2 && double.TryParse(text[..^1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            switch (char.ToLowerInvariant(text[^1]))
            {
                case 's': return TimeSpan.FromSeconds(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 'h': return TimeSpan.FromHours(n);
                case 'd': return TimeSpan.FromDays(n);
            }
        }

        return TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var span) ? span : null;
    }

    /// <summary>Turns the failures an operator can fix into one readable line each on stderr and an exit code.</summary>
    private static async Task<int> Guard(Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (StartupException ex) when (ex.InnerException is not null)
        {
            await Console.Error.WriteLineAsync($"marquee: {ex.Message}");
            return Unavailable;
        }
        catch (StartupException ex)
        {
            foreach (var problem in ex.Problems.Count > 0 ? ex.Problems : [ex.Message])
            {
                await Console.Error.WriteLineAsync($"marquee: {problem}");
            }

            return BadConfiguration;
        }
        catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException || ex.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse })
        {
            await Console.Error.WriteLineAsync($"marquee: cannot listen: {ex.Message}");
            return Unavailable;
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures)
            {
                await Console.Error.WriteLineAsync($"marquee: {failure}");
            }

            return BadConfiguration;
        }
        catch (OperationCanceledException)
        {
            return Ok;
        }
        catch (Exception ex) when (DatabaseMigrator.IsUnreachable(ex))
        {
            await Console.Error.WriteLineAsync($"marquee: the database is unreachable: {DatabaseMigrator.Innermost(ex).Message}");
            return Unavailable;
        }
        catch (Exception ex) when (ex is DbException || DatabaseMigrator.Innermost(ex) is DbException)
        {
            // The server answered but refused (a missing privilege, say): the operator's to fix, not a crash.
            var db = ex as DbException ?? (DbException)DatabaseMigrator.Innermost(ex);
            await Console.Error.WriteLineAsync($"marquee: the database refused: {db.Message}");
            return Failed;
        }
    }
}
