using Marquee.Media.Contracts;
using Marquee.Media.Data;
using Marquee.Media.Uploads;
using Marquee.Platform;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Marquee.Media;

/// <summary>Media: sources of titles, probing, the transcoding ladder, HLS packaging and content keys.</summary>
public static class MediaModule
{
    public static IServiceCollection AddMedia(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MediaOptions>().Bind(configuration.GetSection(MediaOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddModuleDb<MediaDb, SqliteMediaDb, PostgresMediaDb>(configuration);
        services.AddSingleton<Probe>();
        services.AddSingleton<Transcoder>();
        services.AddSingleton<Packager>();
        services.AddScoped<AssetKeys>();
        services.AddSingleton<MediaStorage>();
        services.AddHealthChecks().AddCheck<MediaStoreHealthCheck>("media-store", tags: ["ready"]); // its own volume, maybe (R4)
        services.AddSingleton<MediaPipelineSignal>();
        services.AddScoped<Assets>();
        services.AddSingleton<MediaPipeline>();
        services.AddScoped<IMediaPackages, MediaPackages>();
        services.AddScoped<IMediaIngest, MediaIngest>();
        services.AddScoped<Marquee.Platform.Hosting.IDemoContent, MediaDemo>();
        services.AddSingleton<MediaJobs>();
        services.AddSingleton<SubtitleStore>();
        services.AddEventHandler<AssetReady, TitleSubtitles>(); // also the service the subtitle endpoints use (scoped)
        services.AddScoped<AssetLibrary>();
        services.AddScoped<IAssetLibrary>(sp => sp.GetRequiredService<AssetLibrary>());
        services.AddEventHandler<AssetReady, LibrarySources>();
        services.AddEventHandler<AssetRejected, LibrarySources>();
        services.AddConsoleLink("Media", "Jobs", "/console/media");
        services.AddConsoleLink("Media", "Upload", "/console/media/upload");
        services.AddConsoleLink("Media", "Asset library", "/console/media/library");

        // Resumable uploads (tus 1.0) into <DataDir>/uploads; a finished one is received by the pipeline.
        services.AddOptions<UploadOptions>().Bind(configuration.GetSection(UploadOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => new UploadStore(Path.Combine(sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<MarqueeOptions>>().Value.FullDataDir, "uploads")));
        services.AddScoped<IUploadCompletion, UploadIngest>();
        services.AddSingleton<UploadHandOff>();
        services.AddSingleton<UploadSweeper>();

        // The pipeline runs where background work runs (the worker role), like the outbox dispatcher.
        var roles = configuration.GetSection(MarqueeOptions.Section).Get<MarqueeOptions>() ?? new MarqueeOptions();
        if (roles.HasRole("worker"))
        {
            services.AddHostedService(sp => sp.GetRequiredService<MediaPipeline>());
            services.AddHostedService<LibraryRenditionsBackfill>(); // packages published before the library recorded renditions
        }

        if (roles.HasRole("web"))
        {
            services.AddHostedService(sp => sp.GetRequiredService<UploadSweeper>()); // uploads live on the web node's disk
        }

        return services;
    }

    public static RouteGroupBuilder MapMedia(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("").WithTags("Media");
        group.MapTus();
        group.MapSubtitles();
        group.MapLibrary();

        var jobs = group.MapGroup("/assets").RequireAuthorization(Policies.Console).WithTags("Media jobs");
        jobs.MapGet("", async (MediaJobs list, int? take, CancellationToken ct) => TypedResults.Ok(await list.ListAsync(take ?? 100, ct)))
            .WithName("ListMediaJobs")
            .WithSummary("Lists media assets (jobs), newest first, with state, attempts, priority and live progress (operators).");
        jobs.MapGet("/{id:guid}", async Task<Results<Ok<MediaJob>, ProblemHttpResult>> (Guid id, MediaJobs list, CancellationToken ct) =>
                await list.FindAsync(id, ct) is { } job ? TypedResults.Ok(job) : NotFound(id))
            .WithName("GetMediaJob")
            .WithSummary("Gets one media asset (job) with its live progress (operators).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        jobs.MapPost("/{id:guid}/retry", async (Guid id, MediaJobs list, HttpContext http, CancellationToken ct) =>
                Answer(id, await list.RetryAsync(id, RequestActor.Of(http), ct)))
            .WithName("RetryMediaJob")
            .WithSummary("Puts a Failed or Cancelled job back in the queue with a fresh attempt count (operators; audited).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapPost("/{id:guid}/cancel", async (Guid id, MediaJobs list, HttpContext http, CancellationToken ct) =>
                Answer(id, await list.CancelAsync(id, RequestActor.Of(http), ct)))
            .WithName("CancelMediaJob")
            .WithSummary("Cancels a queued job at once, or a running one at its worker's next heartbeat (ffmpeg killed, nothing published) (operators; audited).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapPost("/{id:guid}/priority", async (Guid id, NewPriority input, MediaJobs list, HttpContext http, CancellationToken ct) =>
                Answer(id, await list.SetPriorityAsync(id, input.Priority, RequestActor.Of(http), ct)))
            .Validate<NewPriority>()
            .WithName("SetMediaJobPriority")
            .WithSummary("Sets a job's priority: the queue takes the highest first, then the oldest (operators; audited).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(title: "No such media asset", detail: $"There is no media asset {id}.", statusCode: StatusCodes.Status404NotFound);

    private static Results<Ok<MediaJob>, ProblemHttpResult> Answer(Guid id, JobChange change) => change switch
    {
        JobChange.Done d => TypedResults.Ok(d.Job),
        JobChange.WrongState w => TypedResults.Problem(title: "Not possible in this state", detail: w.Detail, statusCode: StatusCodes.Status409Conflict,
            extensions: new Dictionary<string, object?> { ["state"] = w.State.ToString() }),
        _ => NotFound(id),
    };
}
