using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Marquee.Catalog.Contracts;
using Marquee.Delivery.Contracts;
using Marquee.Platform.Audit;
using Marquee.Platform.Web;
using Marquee.Rights.Contracts;
using Marquee.Rights.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Rights;

/// <summary>The body of <c>POST /api/rights/licences</c>.</summary>
internal sealed record NewLicence(
    [property: Required, StringLength(300, MinimumLength = 1)] string Name,
    [property: Required, MinLength(1), MaxLength(500)] List<Guid> TitleIds,
    [property: Required] DateTimeOffset? StartsAt,
    [property: Required] DateTimeOffset? EndsAt,
    [property: Required] LicencePlatforms? Platforms,
    [property: Required] ServiceModels? ServiceModels,
    bool Worldwide = false,
    List<string>? Territories = null,
    List<string>? ExcludedTerritories = null,
    bool Exclusive = false,
    Guid? ContractId = null) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (StartsAt is { } s && EndsAt is { } e && e <= s)
        {
            yield return new ValidationResult("The window must end after it starts.", [nameof(EndsAt)]);
        }

        if (Platforms is { } p && ((p & ~LicencePlatforms.All) != 0 || p == LicencePlatforms.None))
        {
            yield return new ValidationResult("Name at least one platform: Web, Mobile, Tv.", [nameof(Platforms)]);
        }

        if (ServiceModels is { } m && ((m & ~Contracts.ServiceModels.All) != 0 || m == Contracts.ServiceModels.None))
        {
            yield return new ValidationResult("Name at least one service model: Svod, Avod, Tvod.", [nameof(ServiceModels)]);
        }

        if (!Worldwide && (Territories is null || Territories.Count == 0))
        {
            yield return new ValidationResult("Name the territories (ISO 3166-1 alpha-2), or set worldwide.", [nameof(Territories)]);
        }

        if (!Worldwide && ExcludedTerritories is { Count: > 0 })
        {
            yield return new ValidationResult("Exclusions apply to a worldwide licence only.", [nameof(ExcludedTerritories)]);
        }

        foreach (var code in (Territories ?? []).Concat(ExcludedTerritories ?? []).Where(c => !Iso3166.IsCode(c)))
        {
            yield return new ValidationResult($"'{code}' is not an ISO 3166-1 alpha-2 country code.", [nameof(Territories)]);
        }
    }
}

/// <summary>A licence as the API shows it.</summary>
internal sealed record LicenceView(
    Guid Id, string Name, Guid? ContractId, IReadOnlyList<Guid> TitleIds, bool Worldwide, IReadOnlyList<string> Territories,
    IReadOnlyList<string> ExcludedTerritories, DateTimeOffset StartsAt, DateTimeOffset EndsAt, LicencePlatforms Platforms,
    ServiceModels ServiceModels, bool Exclusive, DateTimeOffset CreatedAt)
{
    public static LicenceView Of(Licence l) => new(l.Id, l.Name, l.ContractId, [.. l.Titles.Select(t => t.TitleId)], l.Worldwide,
        [.. l.TerritorySet.Order(StringComparer.Ordinal)], [.. l.ExcludedSet.Order(StringComparer.Ordinal)], l.StartsAt, l.EndsAt,
        l.Platforms, l.ServiceModels, l.Exclusive, l.CreatedAt);
}

internal abstract record LicenceOutcome
{
    public sealed record Created(LicenceView Licence) : LicenceOutcome;

    public sealed record Conflict(string Detail) : LicenceOutcome;

    public sealed record Invalid(string Detail) : LicenceOutcome;
}

/// <summary>ISO 3166-1 alpha-2 codes, as .NET's region data knows them.</summary>
internal static class Iso3166
{
    private static readonly HashSet<string> Codes = BuildCodes();

    public static bool IsCode(string? code) => code is { Length: 2 } && Codes.Contains(code.ToUpperInvariant());

    private static HashSet<string> BuildCodes()
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var culture in CultureInfo.GetCultures(CultureTypes.SpecificCultures))
        {
            try
            {
                var region = new RegionInfo(culture.Name);
                if (region.TwoLetterISORegionName.Length == 2 && char.IsAsciiLetter(region.TwoLetterISORegionName[0]))
                {
                    set.Add(region.TwoLetterISORegionName.ToUpperInvariant());
                }
            }
            catch (ArgumentException)
            {
                // a culture without a region
            }
        }

        // Invariant-globalization builds know no cultures: accept any two letters rather than refuse every code.
        return set.Count > 50 ? set : [.. Enumerable.Range('A', 26).SelectMany(a => Enumerable.Range('A', 26).Select(b => $"{(char)a}{(char)b}"))];
    }
}

/// <summary>Licences: created (refused when an exclusive one would overlap another exclusive one), listed, and read by the playback policy.</summary>
internal sealed class Licences(RightsDb db, IServiceProvider services, TimeProvider time)
{
    public async Task<LicenceOutcome> CreateAsync(NewLicence input, RequestActor actor, CancellationToken cancellationToken)
    {
        var titleIds = input.TitleIds.Distinct().ToList();
        if (services.GetService<ICatalog>() is { } catalog)
        {
            foreach (var id in titleIds)
            {
                if (await catalog.FindAsync(id, cancellationToken) is null)
                {
                    return new LicenceOutcome.Invalid($"There is no title {id}.");
                }
            }
        }

        if (input.ContractId is { } contractId && !await db.Contracts.AnyAsync(c => c.Id == contractId, cancellationToken))
        {
            return new LicenceOutcome.Invalid($"There is no contract {contractId}.");
        }

        var now = time.GetUtcNow();
        var licence = new Licence
        {
            Id = Guid.CreateVersion7(now),
            Name = input.Name.Trim(),
            ContractId = input.ContractId,
            Worldwide = input.Worldwide,
            Territories = input.Worldwide ? "" : Join(input.Territories),
            ExcludedTerritories = input.Worldwide ? Join(input.ExcludedTerritories) : "",
            StartsAt = input.StartsAt!.Value.ToUniversalTime(),
            EndsAt = input.EndsAt!.Value.ToUniversalTime(),
            Platforms = input.Platforms!.Value,
            ServiceModels = input.ServiceModels!.Value,
            Exclusive = input.Exclusive,
            CreatedAt = now,
            Titles = [.. titleIds.Select(t => new LicenceTitle { TitleId = t })],
        };

        if (licence.Exclusive && await FirstExclusiveOverlapAsync(licence, cancellationToken) is { } clash)
        {
            return new LicenceOutcome.Conflict(
                $"An exclusive licence, '{clash.Name}' ({clash.Id}), already covers one of these titles in an overlapping territory, platform and window.");
        }

        db.Licences.Add(licence);
        db.Publish(new AuditRequested(new AuditRecord(actor.Name, "rights.licence-created", $"licence:{licence.Id}", actor.From,
            $"{licence.Name}: {titleIds.Count} title(s), {Describe(licence)}"), now));
        await db.SaveChangesAsync(cancellationToken);
        return new LicenceOutcome.Created(LicenceView.Of(licence));
    }

    public async Task<IReadOnlyList<LicenceView>> ListAsync(Guid? titleId, CancellationToken cancellationToken)
    {
        var query = db.Licences.AsNoTracking().Include(l => l.Titles).AsQueryable();
        if (titleId is { } t)
        {
            query = query.Where(l => l.Titles.Any(x => x.TitleId == t));
        }

        var list = await query.ToListAsync(cancellationToken);
        return [.. list.OrderBy(l => l.EndsAt).Select(LicenceView.Of)];
    }

    public async Task<IReadOnlyList<Licence>> ForTitleAsync(Guid titleId, CancellationToken cancellationToken) =>
        await db.Licences.AsNoTracking().Where(l => l.Titles.Any(x => x.TitleId == titleId)).ToListAsync(cancellationToken);

    /// <summary>The licences of these titles, by title (titles without any are absent).</summary>
    public async Task<ILookup<Guid, Licence>> ForTitlesAsync(IReadOnlyCollection<Guid> titleIds, CancellationToken cancellationToken)
    {
        var rows = await db.Licences.AsNoTracking().Include(l => l.Titles)
            .Where(l => l.Titles.Any(x => titleIds.Contains(x.TitleId))).ToListAsync(cancellationToken);
        return rows.SelectMany(l => l.Titles.Where(x => titleIds.Contains(x.TitleId)).Select(x => (x.TitleId, Licence: l)))
            .ToLookup(p => p.TitleId, p => p.Licence);
    }

    /// <summary>True when the title has at least one licence, whatever its terms.</summary>
    public Task<bool> AnyForTitleAsync(Guid titleId, CancellationToken cancellationToken) =>
        db.LicenceTitles.AnyAsync(x => x.TitleId == titleId, cancellationToken);

    private async Task<Licence?> FirstExclusiveOverlapAsync(Licence candidate, CancellationToken cancellationToken)
    {
        var titleIds = candidate.Titles.Select(t => t.TitleId).ToList();
        var others = await db.Licences.AsNoTracking()
            .Where(l => l.Exclusive && l.StartsAt < candidate.EndsAt && candidate.StartsAt < l.EndsAt
                        && l.Titles.Any(t => titleIds.Contains(t.TitleId)))
            .ToListAsync(cancellationToken);
        return others.FirstOrDefault(o => (o.Platforms & candidate.Platforms) != 0 && TerritoriesOverlap(o, candidate));
    }

    /// <summary>Whether two licences share at least one country.</summary>
    internal static bool TerritoriesOverlap(Licence a, Licence b) => (a.Worldwide, b.Worldwide) switch
    {
        (false, false) => a.TerritorySet.Overlaps(b.TerritorySet),
        (true, false) => b.TerritorySet.Any(c => !a.ExcludedSet.Contains(c)),
        (false, true) => a.TerritorySet.Any(c => !b.ExcludedSet.Contains(c)),
        _ => true, // both worldwide: some country is excluded by neither (there are far more countries than any exclusion list)
    };

    internal static bool Covers(Licence l, string country) =>
        l.Worldwide ? !l.ExcludedSet.Contains(country) : l.TerritorySet.Contains(country);

    internal static string Describe(Licence l) =>
        $"{(l.Worldwide ? "worldwide" + (l.ExcludedTerritories.Length > 0 ? " except " + l.ExcludedTerritories : "") : l.Territories)}, "
        + $"{l.StartsAt:u} to {l.EndsAt:u}, {l.Platforms}, {l.ServiceModels}{(l.Exclusive ? ", exclusive" : "")}";

    private static string Join(IEnumerable<string>? codes) =>
        string.Join(',', (codes ?? []).Select(c => c.Trim().ToUpperInvariant()).Distinct().Order(StringComparer.Ordinal));
}

/// <summary>Browse and search ask this: the titles the playback policy would allow for this viewer now.</summary>
internal sealed class TitleAvailability(Licences licences, Microsoft.Extensions.Options.IOptions<RightsOptions> options, TimeProvider time) : ITitleAvailability
{
    public async Task<IReadOnlySet<Guid>> PlayableAsync(IReadOnlyCollection<Guid> titleIds, string? country, ClientPlatform platform, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(titleIds);
        if (titleIds.Count == 0)
        {
            return new HashSet<Guid>();
        }

        var byTitle = await licences.ForTitlesAsync(titleIds, cancellationToken);
        var now = time.GetUtcNow();
        var target = LicencePolicy.PlatformOf(platform);
        return titleIds.Where(id => byTitle.Contains(id)
                ? LicencePolicy.Decide([.. byTitle[id]], country, target, now).Allowed
                : !options.Value.RequireLicence)
            .ToHashSet();
    }
}

/// <summary>Billing asks this: the service models the licences in force grant a viewer now (see <see cref="ITitleServiceModels"/>).</summary>
internal sealed class TitleServiceModels(Licences licences, Microsoft.Extensions.Options.IOptions<RightsOptions> options, TimeProvider time) : ITitleServiceModels
{
    public async Task<ServiceModels> GrantedAsync(Guid titleId, string? country, ClientPlatform platform, CancellationToken cancellationToken)
    {
        if (platform == ClientPlatform.Other)
        {
            return ServiceModels.All; // an operator's preview, as the licence policy treats it
        }

        var all = await licences.ForTitleAsync(titleId, cancellationToken);
        if (all.Count == 0)
        {
            return options.Value.RequireLicence ? ServiceModels.None : ServiceModels.All;
        }

        return LicencePolicy.InForce(all, country, LicencePolicy.PlatformOf(platform), time.GetUtcNow())
            .Aggregate(ServiceModels.None, (models, l) => models | l.ServiceModels);
    }
}

/// <summary>
/// Licences as a playback policy: a viewer may play a title when one of its licences covers the viewer's country, the
/// present moment (window [start, end) in UTC) and the viewer's platform. A title with no licence at all is playable
/// unless <c>Marquee:Rights:RequireLicence</c> is true. Operator URLs from the command line (platform Other) are previews
/// and not checked.
/// </summary>
internal sealed class LicencePolicy(Licences licences, Microsoft.Extensions.Options.IOptions<RightsOptions> options, TimeProvider time) : IPlaybackPolicy
{
    public const string NotLicensed = "This title is not licensed for streaming here.";

    public async Task<PlaybackDecision> EvaluateAsync(PlaybackRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Platform == ClientPlatform.Other)
        {
            return PlaybackDecision.Allow();
        }

        var all = await licences.ForTitleAsync(request.TitleId, cancellationToken);
        if (all.Count == 0)
        {
            return options.Value.RequireLicence ? PlaybackDecision.Refuse(NotLicensed) : PlaybackDecision.Allow();
        }

        return Decide(all, request.Country, PlatformOf(request.Platform), time.GetUtcNow());
    }

    public static LicencePlatforms PlatformOf(ClientPlatform platform) => platform switch
    {
        ClientPlatform.Ios or ClientPlatform.Android => LicencePlatforms.Mobile,
        ClientPlatform.Tv => LicencePlatforms.Tv,
        _ => LicencePlatforms.Web,
    };

    /// <summary>Allowed when one licence covers all three; otherwise the refusal of the first check no licence passes.</summary>
    internal static PlaybackDecision Decide(IReadOnlyList<Licence> all, string? country, LicencePlatforms platform, DateTimeOffset now)
    {
        var onPlatform = all.Where(l => (l.Platforms & platform) != 0).ToList();
        if (onPlatform.Count == 0)
        {
            return PlaybackDecision.Refuse($"This title is not available on {PlatformName(platform)}.");
        }

        var inTerritory = country is null
            ? [.. onPlatform.Where(l => l.Worldwide && l.ExcludedTerritories.Length == 0)]
            : onPlatform.Where(l => Covers(l, country)).ToList();
        if (inTerritory.Count == 0)
        {
            return PlaybackDecision.Refuse(country is null
                ? "This title is only available in some countries, and we could not tell which country you are in."
                : $"This title is not available in your country ({country}).");
        }

        if (inTerritory.Any(l => l.StartsAt <= now && now < l.EndsAt))
        {
            return PlaybackDecision.Allow();
        }

        var next = inTerritory.Where(l => l.StartsAt > now).OrderBy(l => l.StartsAt).FirstOrDefault();
        return next is not null
            ? PlaybackDecision.Refuse($"This title is available from {next.StartsAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC.")
            : PlaybackDecision.Refuse($"This title is no longer available (since {inTerritory.Max(l => l.EndsAt).UtcDateTime:yyyy-MM-dd HH:mm} UTC).");
    }

    private static bool Covers(Licence l, string country) => Licences.Covers(l, country);

    /// <summary>The licences that allow this viewer now: on the platform, covering the country (an unknown country only under a worldwide licence without exclusions), inside the window [start, end).</summary>
    internal static IEnumerable<Licence> InForce(IReadOnlyList<Licence> all, string? country, LicencePlatforms platform, DateTimeOffset now) =>
        all.Where(l => (l.Platforms & platform) != 0
                       && (country is null ? l.Worldwide && l.ExcludedTerritories.Length == 0 : Covers(l, country))
                       && l.StartsAt <= now && now < l.EndsAt);

    private static string PlatformName(LicencePlatforms p) => p switch
    {
        LicencePlatforms.Mobile => "mobile apps",
        LicencePlatforms.Tv => "TV apps",
        _ => "the web",
    };
}
