using Marquee.Media.Contracts;
using Marquee.Media.Data;
using Marquee.Media.Uploads;
using Marquee.Platform;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Web;

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
        services.AddSingleton<MediaPipelineSignal>();
        services.AddScoped<Assets>();
        services.AddSingleton<MediaPipeline>();
        services.AddScoped<IMediaPackages, MediaPackages>();
        services.AddScoped<IMediaIngest, MediaIngest>();
        services.AddScoped<Marquee.Platform.Hosting.IDemoContent, MediaDemo>();
        services.AddSingleton<MediaJobs>();
        services.AddSingleton<SubtitleStore>();
        services.AddEventHandler<AssetReady, TitleSubtitles>(); // also the service the subtitle endpoints use (scoped)
        services.AddConsoleLink("Media", "Jobs", "/console/media");
        services.AddConsoleLink("Media", "Upload", "/console/media/upload");

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
        return group;
    }
}
