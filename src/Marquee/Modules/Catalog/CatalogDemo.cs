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

    private static readonly TitleDetailsInput TrackDetails = new(
        Genres: ["Electronic"], Tags: ["demo", "instrumental"], Credits: [new("Marquee Test Band", CreditRole.Artist)],
        ReleaseDate: new DateOnly(2026, 1, 15), AgeRatings: [new("*", 0)]);

    private static readonly TitleDetailsInput PodcastDetails = new(
        Genres: ["Technology"], Tags: ["streaming", "self-hosting"],
        Credits: [new("Ada Marquee", CreditRole.Host), new("Lin Operator", CreditRole.Guest)],
        ReleaseDate: new DateOnly(2026, 2, 1), AgeRatings: [new("*", 0)]);

    // Genres, people, dates and translations of the samples: the credits are the films' real directors and voices.
    private static readonly Dictionary<string, TitleDetailsInput> Details = new(StringComparer.Ordinal)
    {
        ["Big Buck Bunny"] = new(
            ReleaseDate: new DateOnly(2008, 5, 30), Genres: ["Animation", "Comedy", "Family"], Tags: ["open movie", "rabbit", "blender"],
            Credits: [new("Sacha Goedegebure", CreditRole.Director), new("Jan Morgenstern", CreditRole.Composer)],
            Texts: [new("fr", "Big Buck Bunny", "Un lapin géant se venge gentiment de trois rongeurs qui le harcèlent."),
                    new("de", "Big Buck Bunny", "Ein riesiges Kaninchen rächt sich sanft an drei Nagetieren, die es ärgern.")],
            AgeRatings: [new("*", 0)]),
        ["Sintel"] = new(
            ReleaseDate: new DateOnly(2010, 9, 27), Genres: ["Animation", "Fantasy", "Adventure"], Tags: ["open movie", "dragon", "blender"],
            Credits: [new("Colin Levy", CreditRole.Director), new("Halina Reijn", CreditRole.Actor, "Sintel"), new("Jan Morgenstern", CreditRole.Composer)],
            Texts: [new("fr", "Sintel", "Une jeune femme solitaire recherche le bébé dragon qu'elle avait autrefois sauvé.")],
            AgeRatings: [new("*", 12), new("DE", 12), new("FR", 10)]),
        ["Tears of Steel"] = new(
            ReleaseDate: new DateOnly(2012, 9, 26), Genres: ["Science fiction", "Action"], Tags: ["open movie", "robots", "amsterdam", "visual effects"],
            Credits: [new("Ian Hubert", CreditRole.Director), new("Derek de Lint", CreditRole.Actor, "Old Thom"), new("Sergio Hasselbaink", CreditRole.Actor, "Barley")],
            Texts: [new("nl", "Tears of Steel", "Strijders en wetenschappers komen in Amsterdam samen om de wereld te redden van verwoestende robots.")],
            AgeRatings: [new("*", 12)]),
        ["Elephants Dream"] = new(
            ReleaseDate: new DateOnly(2006, 3, 24), Genres: ["Animation", "Science fiction"], Tags: ["open movie", "surreal", "blender"],
            Credits: [new("Bassam Kurdali", CreditRole.Director), new("Tygo Gernandt", CreditRole.Actor, "Proog"), new("Cas Jansen", CreditRole.Actor, "Emo")],
            AgeRatings: [new("*", 6)]),
        ["Night Drive"] = TrackDetails,
        ["Carrier Wave"] = TrackDetails,
        ["Station Ident"] = TrackDetails,
        ["Marquee Weekly: Episode 1"] = PodcastDetails,
        ["Marquee Weekly: Episode 2"] = PodcastDetails,
    };

    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        if (await titles.CountAsync(cancellationToken) > 0)
        {
            return;
        }

        foreach (var sample in Samples)
        {
            var created = await titles.CreateAsync(sample, RequestActor.System, cancellationToken);
            if (Details.TryGetValue(sample.Name, out var details))
            {
                await titles.SetDetailsAsync(created.Id, details, RequestActor.System, cancellationToken);
            }
        }
    }
}
