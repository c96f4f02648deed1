using Marquee.Delivery.Contracts;
using Marquee.Platform;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Hosting;
using Marquee.Platform.Web;
using Marquee.Rights.Contracts;
using Marquee.Rights.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Marquee.Rights;

/// <summary>
/// Rights: licences and their windows (enforced at playback as an <see cref="IPlaybackPolicy"/>), expiry alerts,
/// providers and contracts with a hash-chained history, and royalty statements from play events and revenue.
/// </summary>
public static class RightsModule
{
    public static IServiceCollection AddRights(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RightsOptions>().Bind(configuration.GetSection(RightsOptions.Section));
        services.AddModuleDb<RightsDb, SqliteRightsDb, PostgresRightsDb>(configuration);
        services.AddScoped<Licences>();
        services.AddScoped<IPlaybackPolicy, LicencePolicy>();
        services.AddScoped<ITitleAvailability, TitleAvailability>();
        services.AddScoped<ITitleServiceModels, TitleServiceModels>();
        services.AddScoped<ExpiryAlerts>();
        services.AddSingleton<ChainHeads>();
        services.AddScoped<ContractBook>();
        services.AddScoped<ChainVerifier>();
        services.AddScoped<RoyaltyStatements>();
        services.AddScoped<Suppliers>();
        services.AddScoped<ITitleRevenue, TitleRevenues>();
        services.AddEventHandler<PlaybackStarted, PlaybackUsage>();
        services.AddEventHandler<PlaybackEnded, PlaybackUsage>();
        services.AddEventHandler<RevenueRecognised, RevenueIntake>();
        services.AddScoped<IDemoContent, RightsDemo>();
        services.AddHostedService<RightsStartupLog>();
        services.AddConsoleLink("Rights", "Licences and alerts", "/console/rights/licences");
        services.AddConsoleLink("Rights", "Contracts", "/console/rights/contracts");
        services.AddConsoleLink("Rights", "Supplier scorecards", "/console/rights/suppliers");
        var marquee = configuration.GetSection(MarqueeOptions.Section).Get<MarqueeOptions>() ?? new MarqueeOptions();
        if (marquee.HasRole("worker"))
        {
            services.AddHostedService<ExpiryAlertWorker>();
        }

        return services;
    }

    public static RouteGroupBuilder MapRights(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("").WithTags("Rights").RequireAuthorization(Policies.Console);

        group.MapPost("/licences", async Task<Results<Created<LicenceView>, ProblemHttpResult>> (NewLicence input, Licences licences, HttpContext http, CancellationToken ct) =>
                await licences.CreateAsync(input, RequestActor.Of(http), ct) switch
                {
                    LicenceOutcome.Created c => TypedResults.Created($"/api/rights/licences/{c.Licence.Id}", c.Licence),
                    LicenceOutcome.Conflict c => TypedResults.Problem(title: "Overlapping exclusive licence", detail: c.Detail, statusCode: StatusCodes.Status409Conflict),
                    LicenceOutcome.Invalid i => TypedResults.Problem(title: "Invalid licence", detail: i.Detail, statusCode: StatusCodes.Status400BadRequest),
                    _ => throw new InvalidOperationException(),
                })
            .Validate<NewLicence>()
            .WithName("CreateLicence")
            .WithSummary("Grants titles for territories, a window [startsAt, endsAt) in UTC, platforms and service models (operators). 409 when exclusive and overlapping another exclusive licence.")
            .ProducesProblem(StatusCodes.Status409Conflict);

        group.MapGet("/licences", async (Licences licences, Guid? titleId, CancellationToken ct) => TypedResults.Ok(await licences.ListAsync(titleId, ct)))
            .WithName("ListLicences")
            .WithSummary("Licences, soonest ending first, optionally of one title (operators).");

        group.MapGet("/alerts", async (ExpiryAlerts alerts, CancellationToken ct) => TypedResults.Ok(await alerts.ListAsync(200, ct)))
            .WithName("ListExpiryAlerts")
            .WithSummary("Licence expiry alerts raised (30, 7 and 1 days ahead), newest first (operators).");

        group.MapPost("/providers", async (NewProvider input, ContractBook book, HttpContext http, CancellationToken ct) =>
            {
                var created = await book.CreateProviderAsync(input, RequestActor.Of(http), ct);
                return TypedResults.Created($"/api/rights/providers/{created.Id}", created);
            })
            .Validate<NewProvider>()
            .WithName("CreateProvider")
            .WithSummary("Adds a content provider or rights holder with its contacts (operators).");

        group.MapGet("/providers", async (ContractBook book, CancellationToken ct) => TypedResults.Ok(await book.ProvidersAsync(ct)))
            .WithName("ListProviders")
            .WithSummary("Providers and rights holders with their contacts (operators).");

        group.MapPost("/contracts", async (NewContract input, ContractBook book, HttpContext http, CancellationToken ct) =>
                Answer(await book.CreateAsync(input, RequestActor.Of(http), ct), created: true))
            .Validate<NewContract>()
            .WithName("CreateContract")
            .WithSummary("Creates a contract as a draft, with its terms, fee model and payment schedule; its history starts (operators).")
            .ProducesProblem(StatusCodes.Status400BadRequest);

        group.MapGet("/contracts", async (ContractBook book, CancellationToken ct) => TypedResults.Ok(await book.ListAsync(ct)))
            .WithName("ListContracts")
            .WithSummary("Contracts, newest first (operators).");

        group.MapGet("/contracts/{id:guid}", async Task<Results<Ok<ContractView>, ProblemHttpResult>> (Guid id, ContractBook book, CancellationToken ct) =>
                await book.FindAsync(id, ct) is { } c ? TypedResults.Ok(c) : NoContract())
            .WithName("GetContract")
            .WithSummary("One contract (operators).");

        group.MapPut("/contracts/{id:guid}/terms", async (Guid id, ContractTerms input, ContractBook book, HttpContext http, CancellationToken ct) =>
                Answer(await book.ChangeTermsAsync(id, input, RequestActor.Of(http), ct)))
            .Validate<ContractTerms>()
            .WithName("ChangeContractTerms")
            .WithSummary("Changes a draft or negotiated contract's terms and fees (409 once signed); appended to its history (operators).")
            .ProducesProblem(StatusCodes.Status409Conflict);

        group.MapPost("/contracts/{id:guid}/transitions", async (Guid id, Transition input, ContractBook book, HttpContext http, CancellationToken ct) =>
                Answer(await book.MoveAsync(id, input.To!.Value, RequestActor.Of(http), ct)))
            .Validate<Transition>()
            .WithName("MoveContract")
            .WithSummary("Moves a contract: draft -> negotiation -> signed -> active -> expired (negotiation may go back to draft); 409 otherwise (operators).")
            .ProducesProblem(StatusCodes.Status409Conflict);

        group.MapGet("/contracts/{id:guid}/history", async Task<Results<Ok<IReadOnlyList<HistoryView>>, ProblemHttpResult>> (Guid id, ContractBook book, CancellationToken ct) =>
                await book.HistoryAsync(id, ct) is { } h ? TypedResults.Ok(h) : NoContract())
            .WithName("GetContractHistory")
            .WithSummary("A contract's append-only, hash-chained history (operators).");

        group.MapGet("/contracts/{id:guid}/statement", async Task<Results<Ok<RoyaltyStatement>, ProblemHttpResult>> (
                Guid id, DateTimeOffset? from, DateTimeOffset? to, RoyaltyStatements statements, CancellationToken ct) =>
                BadPeriod(from, to) is { } bad ? bad
                : await statements.ComputeAsync(id, from!.Value, to!.Value, ct) is { } s ? TypedResults.Ok(s) : NoContract())
            .WithName("GetRoyaltyStatement")
            .WithSummary("The royalty statement of a contract for the period [from, to) in UTC, line by line (operators).");

        group.MapGet("/contracts/{id:guid}/statement.csv", async Task<Results<FileContentHttpResult, ProblemHttpResult>> (
                Guid id, DateTimeOffset? from, DateTimeOffset? to, RoyaltyStatements statements, CancellationToken ct) =>
                BadPeriod(from, to) is { } bad ? bad
                : await statements.ComputeAsync(id, from!.Value, to!.Value, ct) is { } s
                    ? TypedResults.File(System.Text.Encoding.UTF8.GetBytes(s.ToCsv()), "text/csv; charset=utf-8", $"royalties-{id:N}-{from.Value.UtcDateTime:yyyyMMdd}-{to.Value.UtcDateTime:yyyyMMdd}.csv")
                    : NoContract())
            .WithName("GetRoyaltyStatementCsv")
            .WithSummary("The same statement as CSV (RFC 4180), for accounting (operators).");

        group.MapPost("/contracts/{id:guid}/deliveries", async (Guid id, NewDelivery input, Suppliers suppliers, HttpContext http, CancellationToken ct) =>
                await suppliers.ScheduleAsync(id, input, RequestActor.Of(http), ct) switch
                {
                    (ContractOutcome.Done, { } d) => TypedResults.Created($"/api/rights/contracts/{id}/deliveries", d),
                    var (other, _) => Answer(other),
                })
            .Validate<NewDelivery>()
            .WithName("ScheduleDelivery")
            .WithSummary("Schedules a title's delivery under a contract by a due date (UTC); tracked against Media's asset library; appended to the contract's history (operators).")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

        group.MapGet("/contracts/{id:guid}/deliveries", async Task<Results<Ok<IReadOnlyList<DeliveryView>>, ProblemHttpResult>> (Guid id, Suppliers suppliers, CancellationToken ct) =>
                await suppliers.DeliveriesAsync(id, ct) is { } d ? TypedResults.Ok(d) : NoContract())
            .WithName("ListDeliveries")
            .WithSummary("A contract's deliveries with when each title's first accepted source reached the asset library: on-time, late, overdue or pending (operators).");

        group.MapPost("/contracts/{id:guid}/documents", AttachDocumentAsync)
            .WithName("AttachContractDocument")
            .WithSummary("Attaches a signed document (multipart form: file, label): stored in the data folder, its SHA-256 entered in the contract's hash chain so that a swapped file is found by the verifier (operators).")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

        group.MapGet("/contracts/{id:guid}/documents", async Task<Results<Ok<IReadOnlyList<DocumentView>>, ProblemHttpResult>> (Guid id, Suppliers suppliers, CancellationToken ct) =>
                await suppliers.DocumentsAsync(id, ct) is { } d ? TypedResults.Ok(d) : NoContract())
            .WithName("ListContractDocuments")
            .WithSummary("A contract's signed documents with their SHA-256 and history entry (operators).");

        group.MapGet("/contracts/{id:guid}/documents/{documentId:guid}", async Task<Results<PhysicalFileHttpResult, ProblemHttpResult>> (Guid id, Guid documentId, Suppliers suppliers, CancellationToken ct) =>
                await suppliers.DocumentFileAsync(id, documentId, ct) is { } f
                    ? TypedResults.PhysicalFile(f.Path, "application/octet-stream", f.Document.FileName)
                    : TypedResults.Problem(title: "No such document", statusCode: StatusCodes.Status404NotFound))
            .WithName("GetContractDocument")
            .WithSummary("Downloads a signed document (operators).");

        group.MapGet("/scorecards", async (Suppliers suppliers, CancellationToken ct) => TypedResults.Ok(await suppliers.ScorecardsAsync(ct)))
            .WithName("ListSupplierScorecards")
            .WithSummary("Every provider's scorecard: on-time delivery against its contracts' due dates (tracked to the asset library), quality rejections (sources Media rejected), streams and minutes watched of its titles (operators).");

        group.MapGet("/verify", async (ChainVerifier verifier, CancellationToken ct) => TypedResults.Ok(await verifier.VerifyAsync(ct)))
            .WithName("VerifyContractChains")
            .WithSummary("Checks every contract's history chain, its current data and the head file outside the database (operators).");

        return group;
    }

    private static async Task<IResult> AttachDocumentAsync(Guid id, HttpContext http, Suppliers suppliers, IOptions<RightsOptions> options, CancellationToken ct)
    {
        // A form post is a "simple" request a foreign page could send to an operator's loopback: only same-origin pages and non-browsers.
        if (http.Request.Headers["Sec-Fetch-Site"].ToString() is { Length: > 0 } site && site is not ("same-origin" or "none"))
        {
            return TypedResults.Problem(title: "Cross-site request refused", detail: "Documents are uploaded from the console or a non-browser client.", statusCode: StatusCodes.Status403Forbidden);
        }

        var limit = options.Value.MaxDocumentBytes;
        if (http.Request.ContentLength > limit + 64 * 1024)
        {
            return TooLarge(limit);
        }

        if (!http.Request.HasFormContentType)
        {
            return TypedResults.Problem(title: "Multipart form expected", detail: "Send multipart/form-data with the fields file and label.", statusCode: StatusCodes.Status415UnsupportedMediaType);
        }

        IFormCollection form;
        try
        {
            form = await http.Request.ReadFormAsync(ct);
        }
        catch (Exception e) when (e is InvalidDataException or BadHttpRequestException or IOException)
        {
            return TypedResults.Problem(title: "Unreadable form", detail: e.Message, statusCode: StatusCodes.Status400BadRequest);
        }

        var file = form.Files.GetFile("file");
        if (file is null || file.Length == 0)
        {
            return TypedResults.Problem(title: "Invalid document", detail: "The field 'file' is missing or empty.", statusCode: StatusCodes.Status400BadRequest);
        }

        if (file.Length > limit)
        {
            return TooLarge(limit);
        }

        var label = form["label"].ToString();
        if (label.Length > 300)
        {
            return TypedResults.Problem(title: "Invalid document", detail: "label is at most 300 characters.", statusCode: StatusCodes.Status400BadRequest);
        }

        await using var stream = file.OpenReadStream();
        return await suppliers.AttachAsync(id, stream, file.FileName, label, RequestActor.Of(http), ct) switch
        {
            (ContractOutcome.Done, { } d) => TypedResults.Created($"/api/rights/contracts/{id}/documents/{d.Id}", d),
            var (other, _) => Answer(other),
        };
    }

    private static ProblemHttpResult TooLarge(long limit) =>
        TypedResults.Problem(title: "Document too large", detail: $"At most {limit:N0} bytes (Marquee:Rights:MaxDocumentBytes).", statusCode: StatusCodes.Status413PayloadTooLarge);

    private static ProblemHttpResult? BadPeriod(DateTimeOffset? from, DateTimeOffset? to) =>
        from is null || to is null || to <= from
            ? TypedResults.Problem(title: "Invalid period", detail: "Give from and to (ISO 8601, UTC), with to after from.", statusCode: StatusCodes.Status400BadRequest)
            : null;

    private static ProblemHttpResult NoContract() => TypedResults.Problem(title: "No such contract", statusCode: StatusCodes.Status404NotFound);

    private static IResult Answer(ContractOutcome outcome, bool created = false) => outcome switch
    {
        ContractOutcome.Done d when created => TypedResults.Created($"/api/rights/contracts/{d.Contract.Id}", d.Contract),
        ContractOutcome.Done d => TypedResults.Ok(d.Contract),
        ContractOutcome.NotFound => NoContract(),
        ContractOutcome.Conflict c => TypedResults.Problem(title: "Not allowed now", detail: c.Detail, statusCode: StatusCodes.Status409Conflict),
        ContractOutcome.Invalid i => TypedResults.Problem(title: "Invalid contract", detail: i.Detail, statusCode: StatusCodes.Status400BadRequest),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>For <c>marquee rights verify</c>: every problem found, one per line (empty when every chain is intact).</summary>
    public static async Task<(int Contracts, int Entries, IReadOnlyList<string> Problems, string HeadFile)> VerifyAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        await using var scope = services.CreateAsyncScope();
        var report = await scope.ServiceProvider.GetRequiredService<ChainVerifier>().VerifyAsync(cancellationToken);
        return (report.Contracts, report.Entries, [.. report.Problems.Select(p => p.ToString())], report.HeadFile);
    }
}

/// <summary>Says at start-up whether titles without a licence play.</summary>
internal sealed partial class RightsStartupLog(IOptions<RightsOptions> options, ILogger<RightsStartupLog> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.RequireLicence)
        {
            Log.Required(logger);
        }
        else
        {
            Log.NotRequired(logger);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Rights: titles without any licence are refused at playback (Marquee:Rights:RequireLicence=true)")]
        public static partial void Required(ILogger logger);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Rights: titles without any licence play everywhere; titles with licences are held to them (set Marquee:Rights:RequireLicence=true to refuse unlicensed titles)")]
        public static partial void NotRequired(ILogger logger);
    }
}
