using Marquee.Catalog.Contracts;
using Marquee.Platform.Hosting;
using Marquee.Platform.Web;

namespace Marquee.Catalog;

/// <summary>
/// Sample catalogue entries for <c>marquee demo</c>: the names and synopses of openly licensed Blender films,
/// an album and a podcast. Their media arrive with the media pipeline.
/// </summary>
internal sealed class CatalogDemo(Titles titles) : IDemoContent
{
    private static readonly NewTitle[] Samples =
    [
        new("Big Buck Bunny", TitleKind.Film, "A giant rabbit takes a gentle revenge on three bullying rodents. Blender Foundation, CC BY 3.0.", 596),
        new("Sintel", TitleKind.Film, "A lonely young woman searches for the baby dragon she once rescued. Blender Foundation, CC BY 3.0.", 888),
        new("Tears of Steel", TitleKind.Film, "Warriors and scientists gather in Amsterdam to save the world from destructive robots. Blender Foundation, CC BY 3.0.", 734),
        new("Elephants Dream", TitleKind.Film, "Two people explore a strange and endless machine. Orange Open Movie Project, CC BY 2.5.", 654),
        new("Night Drive", TitleKind.Track, "An instrumental track from the demo album 'Test Signals'.", 214),
        new("Marquee Weekly: Episode 1", TitleKind.Podcast, "How a self-hosted streaming service is put together.", 1260),
    ];

    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        if (await titles.CountAsync(cancellationToken) > 0)
        {
            return;
        }

        foreach (var sample in Samples)
        {
            await titles.CreateAsync(sample, RequestActor.System, cancellationToken);
        }
    }
}
