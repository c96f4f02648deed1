using Marquee.Catalog.Contracts;
using Marquee.Catalog.Data;
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
        services.AddScoped<ICatalog>(sp => sp.GetRequiredService<Titles>());
        services.AddScoped<IDemoContent, CatalogDemo>();
        services.AddEventHandler<Marquee.Media.Contracts.AssetReady, MediaEvents>();
        services.AddConsoleLink("Catalog", "Titles", "/console/catalog");
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

        return group;
    }
}
