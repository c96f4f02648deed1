using Xunit.Abstractions;

[assembly: TestCollectionOrderer("Marquee.Tests.CollectionOrder", "Marquee.Tests")]

namespace Marquee.Tests;

/// <summary>
/// Starts the longest chains first. xunit runs two collections at a time here (one per core) and took them in an
/// arbitrary order: the serial "Media" collection (transcodes and the kill -9 harnesses, about a sixth of the suite's
/// time) came last and ran alone for the final seven minutes. Longest first, the rest fill in beside it.
/// </summary>
public sealed class CollectionOrder : ITestCollectionOrderer
{
    /// <summary>Classes that each take a minute or more (measured from the TRX files of a full run), after Media.</summary>
    private static readonly string[] Slow =
    [
        "Rights.ContractChainTests", "Platform.StartupFailureTests", "Billing.EntitlementTests", "Identity.OidcProviderTests",
        "Media.IngestCommandTests", "Identity.SignUpAndSignInTests", "Billing.VerifyCommandTests", "Platform.CrashRecoveryTests",
        "Delivery.PlaybackTokenTests", "Rights.LicencePlaybackTests", "Media.TusUploadTests", "Identity.AccountSecurityTests",
        "Catalog.SearchTests", "Media.MediaJobsTests", "Platform.KeyRingTests", "Catalog.TitlesApiTests",
    ];

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.OrderBy(Rank).ThenBy(c => c.DisplayName, StringComparer.Ordinal);

    private static int Rank(ITestCollection collection)
    {
        if (collection.DisplayName == "Media")
        {
            return -1;
        }

        var index = Array.FindIndex(Slow, name => collection.DisplayName.EndsWith("Marquee.Tests." + name, StringComparison.Ordinal));
        return index < 0 ? Slow.Length : index;
    }
}
