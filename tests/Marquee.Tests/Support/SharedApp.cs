namespace Marquee.Tests.Support;

/// <summary>
/// One host with the default configuration, shared by the tests of a class that only read from it (lookups, headers,
/// the endpoint list): a host start costs seconds and the suite starts hundreds. Tests that change state or need
/// their own configuration start their own <see cref="MarqueeApp"/>.
/// </summary>
public sealed class SharedApp : IAsyncLifetime
{
    private MarqueeApp? app;

    public MarqueeApp App => app ?? throw new InvalidOperationException("The shared host has not started.");

    public async Task InitializeAsync() => app = await MarqueeApp.StartAsync();

    public async Task DisposeAsync()
    {
        if (app is not null)
        {
            await app.DisposeAsync();
        }
    }
}
