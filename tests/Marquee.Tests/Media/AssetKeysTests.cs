using Marquee.Media;
using Marquee.Media.Contracts;
using Marquee.Media.Data;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Media;

public sealed class AssetKeysTests
{
    [Fact]
    public async Task Create_WhenStored_IsProtectedAtRestAndReadBackInClear()
    {
        await using var app = await MarqueeApp.StartAsync();
        var assetId = Guid.NewGuid();

        var key = await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<MediaDb>();
            db.Assets.Add(new Asset { Id = assetId, TitleId = Guid.NewGuid(), SourcePath = "sources/a.mp4", State = AssetState.Received });
            await db.SaveChangesAsync();
            return await sp.GetRequiredService<AssetKeys>().CreateAsync(assetId, CancellationToken.None);
        });

        var stored = await app.ScopedAsync(sp => sp.GetRequiredService<MediaDb>().AssetKeys.AsNoTracking().SingleAsync(k => k.AssetId == assetId));
        var readBack = await app.ScopedAsync(sp => sp.GetRequiredService<AssetKeys>().FindAsync(assetId, CancellationToken.None));

        Assert.Equal(16, key.Length);
        Assert.Equal(key, readBack);
        Assert.NotEqual(key, stored.ProtectedKey);
        Assert.True(stored.ProtectedKey.AsSpan().IndexOf(key) < 0, "the clear key appears nowhere in the stored bytes");
    }
}
