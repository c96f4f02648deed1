using System.Security.Claims;
using Marquee.Catalog.Contracts;
using Marquee.Delivery.Contracts;
using Marquee.Identity.Contracts;
using Marquee.Identity.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Identity;

/// <summary>
/// Household profiles: up to <see cref="AccountOptions.MaxProfiles"/> per account (one may be a kids profile, whose
/// maturity limit is at most <see cref="KidsMaxAge"/>), each with a maturity limit, an optional PIN (hashed with the
/// password hasher) and a language. The active profile is a claim of the session cookie; Delivery keys resume
/// positions and history by it.
/// </summary>
internal sealed class Profiles(IdentityDb db, UserManager<Account> users, SignInManager<Account> signIn, IPasswordHasher<Account> hasher, IOptions<AccountOptions> options, TimeProvider clock)
    : IProfileMaturity
{
    public const int KidsMaxAge = 12;

    public static readonly int[] Limits = [0, 7, 12, 16, 18];

    public Task<List<Profile>> ListAsync(Guid accountId, CancellationToken cancellationToken) =>
        db.Profiles.AsNoTracking().Where(p => p.AccountId == accountId).OrderBy(p => p.CreatedAt).ToListAsync(cancellationToken);

    /// <summary>Creates a profile; the problems in words when the input is not acceptable (nothing is stored then).</summary>
    public async Task<(Profile? Profile, Dictionary<string, string[]> Errors)> CreateAsync(Guid accountId, ProfileInput input, CancellationToken cancellationToken)
    {
        var existing = await ListAsync(accountId, cancellationToken);
        var errors = Check(input, existing, null);
        if (existing.Count >= options.Value.MaxProfiles)
        {
            errors["profiles"] = [$"An account has at most {options.Value.MaxProfiles} profiles."];
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var profile = new Profile
        {
            Id = Guid.CreateVersion7(clock.GetUtcNow()),
            AccountId = accountId,
            Name = input.Name!.Trim(),
            CreatedAt = clock.GetUtcNow(),
        };
        Apply(profile, input);
        db.Profiles.Add(profile);
        await db.SaveChangesAsync(cancellationToken);
        return (profile, errors);
    }

    public async Task<(bool Found, Dictionary<string, string[]> Errors)> UpdateAsync(Guid accountId, Guid id, ProfileInput input, CancellationToken cancellationToken)
    {
        var profile = await db.Profiles.FirstOrDefaultAsync(p => p.Id == id && p.AccountId == accountId, cancellationToken);
        if (profile is null)
        {
            return (false, []);
        }

        var errors = Check(input, await ListAsync(accountId, cancellationToken), id);
        if (errors.Count == 0)
        {
            profile.Name = input.Name!.Trim();
            Apply(profile, input);
            await db.SaveChangesAsync(cancellationToken);
        }

        return (true, errors);
    }

    public async Task<bool> DeleteAsync(Guid accountId, Guid id, CancellationToken cancellationToken) =>
        await db.Profiles.Where(p => p.Id == id && p.AccountId == accountId).ExecuteDeleteAsync(cancellationToken) == 1;

    /// <summary>Makes a profile the session's active one (its PIN when it has one); false when not the account's or a wrong PIN.</summary>
    public async Task<bool> SelectAsync(ClaimsPrincipal principal, Guid id, string? pin, CancellationToken cancellationToken)
    {
        if (await users.GetUserAsync(principal) is not { } user
            || await db.Profiles.AsNoTracking().FirstOrDefaultAsync(p => p.Id == id && p.AccountId == user.Id, cancellationToken) is not { } profile)
        {
            return false;
        }

        if (profile.PinHash is not null
            && hasher.VerifyHashedPassword(user, profile.PinHash, pin ?? "") == PasswordVerificationResult.Failed)
        {
            return false;
        }

        var claims = new List<Claim> { new(IdentityClaims.Profile, profile.Id.ToString()) };
        if (profile.MaturityLimit is { } limit)
        {
            claims.Add(new Claim(IdentityClaims.MaturityLimit, limit.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        if (principal.FindFirst("amr") is { } amr)
        {
            claims.Add(new Claim("amr", amr.Value));
        }

        await signIn.SignInWithClaimsAsync(user, isPersistent: false, claims);
        return true;
    }

    public async Task<int?> LimitAsync(ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        if (user.Identity is not { IsAuthenticated: true }
            || !Guid.TryParse(user.FindFirstValue(ClaimTypes.NameIdentifier), out var account)
            || !Guid.TryParse(user.FindFirstValue(IdentityClaims.Profile), out var id))
        {
            return null;
        }

        return await db.Profiles.AsNoTracking().Where(p => p.Id == id && p.AccountId == account)
            .Select(p => p.MaturityLimit).FirstOrDefaultAsync(cancellationToken);
    }

    public Task<Profile?> FindAsync(Guid id, CancellationToken cancellationToken) =>
        db.Profiles.AsNoTracking().FirstOrDefaultAsync(p => p.Id == id, cancellationToken);

    private Dictionary<string, string[]> Check(ProfileInput input, List<Profile> existing, Guid? self)
    {
        var errors = new Dictionary<string, string[]>();
        if (input.Name?.Trim() is not { Length: >= 1 and <= 40 })
        {
            errors["name"] = ["Give the profile a name of 1 to 40 characters."];
        }

        if (input.MaturityLimit is { } l && !Limits.Contains(l))
        {
            errors["maturityLimit"] = [$"The maturity limit is one of {string.Join(", ", Limits)}, or none."];
        }

        if (input.IsKids == true && existing.Any(p => p.IsKids && p.Id != self))
        {
            errors["isKids"] = ["The account already has a kids profile."];
        }

        if (input.Pin is { Length: > 0 } pin && (pin.Length is < 4 or > 8 || !pin.All(char.IsAsciiDigit)))
        {
            errors["pin"] = ["A PIN is 4 to 8 digits."];
        }

        if (input.Language is { } lang && (lang.Length is < 2 or > 16 || !lang.All(c => char.IsAsciiLetter(c) || c == '-')))
        {
            errors["language"] = ["The language is a language tag such as en or pt-BR."];
        }

        return errors;
    }

    private void Apply(Profile profile, ProfileInput input)
    {
        profile.IsKids = input.IsKids == true;
        profile.MaturityLimit = profile.IsKids ? Math.Min(input.MaturityLimit ?? KidsMaxAge, KidsMaxAge) : input.MaturityLimit;
        profile.Language = input.Language is { Length: > 0 } lang ? lang : "en";
        if (input.Pin is not null)
        {
            // An empty PIN removes it; the hasher is keyed by a throwaway account object (the PIN is the secret).
            profile.PinHash = input.Pin.Length == 0 ? null : hasher.HashPassword(new Account { Id = profile.AccountId }, input.Pin);
        }
    }
}

internal sealed record ProfileInput(string? Name, bool? IsKids, int? MaturityLimit, string? Pin, string? Language);

internal sealed record ProfileView(Guid Id, string Name, bool IsKids, int? MaturityLimit, bool HasPin, string Language)
{
    public static ProfileView Of(Profile p) => new(p.Id, p.Name, p.IsKids, p.MaturityLimit, p.PinHash is not null, p.Language);
}

/// <summary>
/// The active profile's maturity limit at playback: a title whose age rating (Catalog's <see cref="ITitleAgeRatings"/>)
/// is above it is refused. Without a profile, or without ratings in this build, nothing is held back.
/// </summary>
internal sealed class MaturityPolicy(Profiles profiles, IServiceProvider services) : IPlaybackPolicy
{
    public async Task<PlaybackDecision> EvaluateAsync(PlaybackRequest request, CancellationToken cancellationToken)
    {
        if (!request.SignedIn || request.ProfileId == request.AccountId || services.GetService<ITitleAgeRatings>() is not { } ratings)
        {
            return PlaybackDecision.Allow();
        }

        var profile = await profiles.FindAsync(request.ProfileId, cancellationToken);
        if (profile is null || profile.AccountId != request.AccountId || profile.MaturityLimit is not { } limit)
        {
            return PlaybackDecision.Allow();
        }

        return await ratings.MinimumAgeAsync(request.TitleId, request.Country, cancellationToken) is { } age && age > limit
            ? PlaybackDecision.Refuse($"This title is rated {age}+, above the limit of the profile {profile.Name} ({limit}+).")
            : PlaybackDecision.Allow();
    }
}
