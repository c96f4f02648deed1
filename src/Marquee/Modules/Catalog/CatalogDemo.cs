using Marquee.Catalog.Contracts;
using Marquee.Platform.Hosting;
using Marquee.Platform.Web;

namespace Marquee.Catalog;

/// <summary>
/// Sample catalogue entries for <c>marquee demo</c>: the names and synopses of openly licensed Blender films,
/// an album of three tracks and a podcast of two episodes (each a collection, numbered). Their media arrive with the media pipeline.
/// </summary>
internal sealed class CatalogDemo(Titles titles) : IDemoContent
{
    private const string Album = "Test Signals";
    private const string Show = "Marquee Weekly";

    // The later tracks and episode come first, so that the newest titles (the home page shows eight) are the films,
    // the first track and the first episode. Tracks and episodes take the duration Media measures.
    private static readonly NewTitle[] Samples =
    [
        new("Carrier Wave", TitleKind.Track, "Track 2 of the demo album 'Test Signals': a steady chord over a slow beat.", Collection: Album, Number: 2),
        new("Station Ident", TitleKind.Track, "Track 3 of the demo album 'Test Signals': the closing jingle.", Collection: Album, Number: 3),
        new("Marquee Weekly: Episode 2", TitleKind.Podcast, "Why every title gets its own encryption key, and how playback tokens expire.", Collection: Show, Number: 2),
        new("Big Buck Bunny", TitleKind.Film, "A giant rabbit takes a gentle revenge on three bullying rodents. Blender Foundation, CC BY 3.0.", 596),
        new("Sintel", TitleKind.Film, "A lonely young woman searches for the baby dragon she once rescued. Blender Foundation, CC BY 3.0.", 888),
        new("Tears of Steel", TitleKind.Film, "Warriors and scientists gather in Amsterdam to save the world from destructive robots. Blender Foundation, CC BY 3.0.", 734),
        new("Elephants Dream", TitleKind.Film, "Two people explore a strange and endless machine. Orange Open Movie Project, CC BY 2.5.", 654),
        new("Night Drive", TitleKind.Track, "Track 1 of the demo album 'Test Signals': an instrumental in three tones.", Collection: Album, Number: 1),
        new("Marquee Weekly: Episode 1", TitleKind.Podcast, "How a self-hosted streaming service is put together.", Collection: Show, Number: 1),
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
