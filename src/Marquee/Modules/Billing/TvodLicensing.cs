using Marquee.Delivery.Contracts;
using Marquee.Rights.Contracts;

namespace Marquee.Billing;

/// <summary>
/// May a rental or purchase (TVOD) of a title be sold to this viewer? Checkout asks Rights' <see cref="ITitleServiceModels"/>,
/// the contract entitlements ask at playback, for the viewer's country as playback resolves it from the request
/// (<see cref="Platform.Web.IClientCountry"/>: the trusted country header from a configured proxy, else the client
/// address) and for any platform a licence can name (web, mobile, TV): sold when a licence in force grants TVOD there
/// now on at least one of them. A title with no licence at all follows playback's rule: sold unless
/// <c>Marquee:Rights:RequireLicence</c> is on. Without Rights in the build, everything is sold.
/// </summary>
internal sealed class TvodLicensing(IServiceProvider services)
{
    public const string RefusedInCountry = "This title can't be rented or bought in your country.";

    public const string RefusedUnknownCountry = "This title can't be rented or bought here: we could not tell which country you are in.";

    // One client platform for each licence platform (Web and Desktop map to web, iOS and Android to mobile, TV to TV).
    private static readonly ClientPlatform[] OnePerLicencePlatform = [ClientPlatform.Web, ClientPlatform.Ios, ClientPlatform.Tv];

    public async Task<bool> GrantedAsync(Guid titleId, string? country, CancellationToken cancellationToken)
    {
        if (services.GetService<ITitleServiceModels>() is not { } rights)
        {
            return true;
        }

        foreach (var platform in OnePerLicencePlatform)
        {
            if ((await rights.GrantedAsync(titleId, country, platform, cancellationToken)).HasFlag(ServiceModels.Tvod))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The refusal, before anything is charged or written: 409, as for other refusals that depend on present state.</summary>
    public static Answer Refusal(string? country) =>
        Answer.Problem(409, "Not for rent or sale here", country is null ? RefusedUnknownCountry : RefusedInCountry);
}
