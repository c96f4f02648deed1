using Marquee.Tests.Support;
using Microsoft.Extensions.Options;

namespace Marquee.Tests.Media;

public sealed class MediaOptionsTests
{
    [Fact]
    public async Task Start_WhenMediaOptionsAreOutOfRange_Refuses()
    {
        await using var storage = await TestStorage.CreateAsync();
        var failure = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var app = await MarqueeApp.StartAsync(s =>
            {
                s["Marquee:Media:SegmentSeconds"] = "0";
                s["Marquee:Media:X264Preset"] = "placebo; rm -rf /";
            }, storage: storage);
        });

        Assert.Contains("SegmentSeconds", failure.Message, StringComparison.Ordinal);
        Assert.Contains("X264Preset", failure.Message, StringComparison.Ordinal);
    }
}
