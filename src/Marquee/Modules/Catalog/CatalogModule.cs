using Marquee.Catalog.Contracts;
using Marquee.Catalog.Data;
using System.Globalization;
using System.Text;
using System.Xml;
using Marquee.Platform;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Hosting;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Marquee.Catalog;

/// <summary>Catalog: titles (film, episode, track, podcast) and what pages and playback need of them.</summary>
public static class CatalogModule
{
    public static IServiceCollection AddCatalog(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddModuleDb<CatalogDb, SqliteCatalogDb, PostgresCatalogDb>(configuration);
        services.AddScoped<Titles>();
        services.AddScoped<Visibility>();
        services.AddScoped<CatalogQueries>();
        services.AddScoped<ContentValue>();
        services.AddSingleton<CatalogSearch>();
        services.AddEventHandler<Marquee.Delivery.Contracts.PlaybackStarted, PlaybackEvents>();
        var marquee = configuration.GetSection(MarqueeOptions.Section).Get<MarqueeOptions>() ?? new MarqueeOptions();
        if (marquee.HasRole("web"))
        {
            services.AddHostedService<CatalogSearchWorker>();
        }

        services.AddScoped<ICatalog>(sp => sp.GetRequiredService<Titles>());
        services.AddScoped<ITitleAgeRatings>(sp => sp.GetRequiredService<Titles>()); // the narrow contract the profiles' maturity policy needs
        services.AddScoped<IDemoContent, CatalogDemo>();
        services.AddEventHandler<Marquee.Media.Contracts.AssetReady, MediaEvents>();
        services.AddConsoleLink("Catalog", "Titles", "/console/catalog");
        services.AddConsoleLink("Catalog", "Demand", "/console/catalog/demand");
        services.AddConsoleLink("Catalog", "Content value", "/console/catalog/value");
        services.AddConsoleFigures<CatalogFigures>();
        return services;
    }

    public static RouteGroupBuilder MapCatalog(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("").WithTags("Catalog");

        group.MapGet("/titles", async (Titles titles, TitleKind? kind, string? collection, int? skip, int? take, CancellationToken ct) =>
                TypedResults.Ok(collection is not null
                    ? await titles.CollectionAsync(collection, ct)
                    : await titles.ListAsync(kind, skip ?? 0, take ?? 50, ct)))
            .AllowAnonymous()
            .WithName("ListTitles")
            .WithSummary("Lists titles, newest first, optionally of one kind; or, with collection, that album's or show's titles in order (by number).");

        group.MapGet("/titles/{id:guid}", async Task<Results<Ok<TitleSummary>, NotFound>> (Guid id, Titles titles, CancellationToken ct) =>
                await titles.FindAsync(id, ct) is { } t ? TypedResults.Ok(t) : TypedResults.NotFound())
            .AllowAnonymous()
            .WithName("GetTitle")
            .WithSummary("Gets one title.");

        group.MapPost("/titles", async (NewTitle input, Titles titles, HttpContext http, CancellationToken ct) =>
            {
                var created = await titles.CreateAsync(input, RequestActor.Of(http), ct);
                return TypedResults.Created($"/api/catalog/titles/{created.Id}", created);
            })
            .RequireAuthorization(Policies.ConsoleContent)
            .Validate<NewTitle>()
            .WithName("CreateTitle")
            .WithSummary("Creates a title (operators).")
            .ProducesValidationProblem();

        group.MapGet("/titles/{id:guid}/details", async Task<Results<Ok<TitleDetails>, NotFound>> (Guid id, Titles titles, CancellationToken ct) =>
                await titles.DetailsAsync(id, ct) is { } d ? TypedResults.Ok(d) : TypedResults.NotFound())
            .AllowAnonymous()
            .WithName("GetTitleDetails")
            .WithSummary("Gets a title with its translations, genres, tags, cast and crew, age ratings, release date and popularity.");

        group.MapPut("/titles/{id:guid}/details", async Task<Results<Ok<TitleDetails>, NotFound>> (Guid id, TitleDetailsInput input, Titles titles, HttpContext http, CancellationToken ct) =>
                await titles.SetDetailsAsync(id, input, RequestActor.Of(http), ct) switch
                {
                    DetailsOutcome.Saved s => TypedResults.Ok(s.Details),
                    _ => TypedResults.NotFound(),
                })
            .RequireAuthorization(Policies.ConsoleContent)
            .Validate<TitleDetailsInput>()
            .WithName("SetTitleDetails")
            .WithSummary("Replaces a title's details: languages, season, release date, exclusive flag, artwork, genres, tags, credits, age ratings (operators).")
            .ProducesValidationProblem();

        group.MapGet("/titles/{id:guid}/value", async Task<Results<Ok<ValueEstimate>, ProblemHttpResult>> (Guid id, ContentValue value, CancellationToken ct) =>
                await value.ForTitleAsync(id, ct) is { } e ? TypedResults.Ok(e)
                    : TypedResults.Problem(title: "No such title", detail: $"There is no title {id}.", statusCode: StatusCodes.Status404NotFound))
            .RequireAuthorization(Policies.ConsoleContent)
            .WithName("EstimateTitleValue")
            .WithSummary("Expected views and revenue of a title from similar titles' history (k nearest neighbours over genres, people, tags, collection, year), with the features that drove it and the neighbours (operators).")
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapPost("/value", async (ValueCandidate input, ContentValue value, CancellationToken ct) => TypedResults.Ok(await value.ForCandidateAsync(input, ct)))
            .RequireAuthorization(Policies.ConsoleContent)
            .WithName("EstimateCandidateValue")
            .WithSummary("The same estimate for a candidate not in the catalogue yet: genres, people, tags, collection, year (operators).");

        group.MapGet("/genres", async (Titles titles, CancellationToken ct) =>
                TypedResults.Ok((await titles.GenresAsync(ct)).Select(g => new { g.Genre.Slug, g.Genre.Name, g.Titles })))
            .AllowAnonymous()
            .WithName("ListGenres")
            .WithSummary("Lists the genres in use, with how many titles each has.");

        group.MapGet("/genres/{slug}", async (string slug, Titles titles, Visibility visibility, HttpContext http, int? skip, int? take, CancellationToken ct) =>
                TypedResults.Ok(await visibility.PlayableAsync(await titles.InGenreAsync(slug.ToLowerInvariant(), skip ?? 0, take ?? 50, ct), http, ct)))
            .AllowAnonymous()
            .WithName("ListGenreTitles")
            .WithSummary("Lists a genre's titles that the caller may play, newest first.");

        group.MapGet("/search", async Task<Results<Ok<SearchResults>, ValidationProblem>> (string? q, int? take, CatalogQueries queries, HttpContext http, CancellationToken ct) =>
            {
                if (string.IsNullOrWhiteSpace(q) || q.Length > 200)
                {
                    return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["q"] = ["Give a search of 1 to 200 characters."] });
                }

                return TypedResults.Ok(await queries.SearchAsync(q, take ?? 20, http, ct));
            })
            .AllowAnonymous()
            .WithName("SearchCatalog")
            .WithSummary("Searches titles by name (every language), people, genres and tags, with prefixes and typos, ranked by relevance and popularity; only what the caller may play.");

        group.MapGet("/search/misses", async (CatalogQueries queries, int? days, CancellationToken ct) =>
                TypedResults.Ok(await queries.DemandAsync(TimeSpan.FromDays(Math.Clamp(days ?? 30, 1, 365)), ct)))
            .RequireAuthorization(Policies.ConsoleContent)
            .WithName("SearchDemand")
            .WithSummary("Demand analysis (operators): searches that found nothing, most frequent first, and genres searched for more than the catalogue supplies.");

        return group;
    }

    /// <summary>The site's <c>/sitemap.xml</c> (every public title page) and <c>/robots.txt</c> (pointing to it).</summary>
    public static IEndpointRouteBuilder MapCatalogSite(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/sitemap.xml", async (Titles titles, HttpContext http, CancellationToken ct) =>
            {
                var origin = $"{http.Request.Scheme}://{http.Request.Host}";
                var sb = new StringBuilder();
                using (var xml = XmlWriter.Create(sb, new XmlWriterSettings { Indent = true, Async = true }))
                {
                    xml.WriteStartElement("urlset", "http://www.sitemaps.org/schemas/sitemap/0.9");
                    foreach (var path in new[] { "/", "/browse" })
                    {
                        xml.WriteStartElement("url");
                        xml.WriteElementString("loc", origin + path);
                        xml.WriteEndElement();
                    }

                    foreach (var (slug, changed) in await titles.SitemapAsync(ct))
                    {
                        xml.WriteStartElement("url");
                        xml.WriteElementString("loc", $"{origin}/title/{Uri.EscapeDataString(slug)}");
                        xml.WriteElementString("lastmod", changed.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
                        xml.WriteEndElement();
                    }

                    foreach (var (genre, _) in await titles.GenresAsync(ct))
                    {
                        xml.WriteStartElement("url");
                        xml.WriteElementString("loc", $"{origin}/genres/{Uri.EscapeDataString(genre.Slug)}");
                        xml.WriteEndElement();
                    }

                    xml.WriteEndElement();
                }

                // StringBuilder output says utf-16 in its declaration; the response is UTF-8.
                return Results.Text(sb.ToString().Replace("encoding=\"utf-16\"", "encoding=\"utf-8\"", StringComparison.Ordinal), "application/xml", Encoding.UTF8);
            })
            .AllowAnonymous()
            .ExcludeFromDescription();

        endpoints.MapGet("/posters/{slug}.svg", async Task<Results<ContentHttpResult, NotFound>> (string slug, Titles titles, HttpContext http, CancellationToken ct) =>
            {
                if (await titles.FindBySlugAsync(slug.ToLowerInvariant(), ct) is not { } title)
                {
                    return TypedResults.NotFound();
                }

                http.Response.Headers.CacheControl = "public, max-age=3600";
                return TypedResults.Content(StructuredData.PosterSvg(title), "image/svg+xml", Encoding.UTF8);
            })
            .AllowAnonymous()
            .ExcludeFromDescription();

        endpoints.MapGet("/robots.txt", (HttpContext http) =>
                Results.Text($"User-agent: *\nDisallow: /console\nDisallow: /api/\nDisallow: /account\nDisallow: /watch/\nSitemap: {http.Request.Scheme}://{http.Request.Host}/sitemap.xml\n", "text/plain", Encoding.UTF8))
            .AllowAnonymous()
            .ExcludeFromDescription();

        return endpoints;
    }
}
