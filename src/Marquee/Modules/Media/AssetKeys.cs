using Marquee.Media.Data;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Media;

/// <summary>Content keys of assets: made at random, stored protected by Data Protection (purpose <c>Marquee.Media.Keys</c>).</summary>
internal sealed class AssetKeys(MediaDb db, IDataProtectionProvider protection, TimeProvider clock)
{
    public const string Purpose = "Marquee.Media.Keys";

    private readonly IDataProtector protector = protection.CreateProtector(Purpose);

    /// <summary>Makes the asset's key and stores it (protected); fails if the asset has one already.</summary>
    public async Task<byte[]> CreateAsync(Guid assetId, CancellationToken cancellationToken)
    {
        var key = HlsEncryption.NewKey();
        db.AssetKeys.Add(new AssetKey { AssetId = assetId, ProtectedKey = protector.Protect(key), CreatedAt = clock.GetUtcNow() });
        await db.SaveChangesAsync(cancellationToken);
        return key;
    }

    /// <summary>The asset's key in clear, or null when it has none.</summary>
    public async Task<byte[]?> FindAsync(Guid assetId, CancellationToken cancellationToken)
    {
        var row = await db.AssetKeys.AsNoTracking().SingleOrDefaultAsync(k => k.AssetId == assetId, cancellationToken);
        return row is null ? null : protector.Unprotect(row.ProtectedKey);
    }
}
