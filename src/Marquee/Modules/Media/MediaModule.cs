using Marquee.Media.Data;
using Marquee.Platform;
using Marquee.Platform.Data;

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

        // The pipeline runs where background work runs (the worker role), like the outbox dispatcher.
        var roles = configuration.GetSection(MarqueeOptions.Section).Get<MarqueeOptions>() ?? new MarqueeOptions();
        if (roles.HasRole("worker"))
        {
            services.AddHostedService(sp => sp.GetRequiredService<MediaPipeline>());
        }

        return services;
    }

    /// <summary>No endpoints yet: uploads and playback arrive with the next slices.</summary>
    public static RouteGroupBuilder MapMedia(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGroup("").WithTags("Media");
}
