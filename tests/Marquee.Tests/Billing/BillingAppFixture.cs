using Marquee.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Marquee.Tests.Billing;

/// <summary>One billing host for a test class whose tests each make their own accounts, plans and coupons (a host start costs seconds).</summary>
public abstract class BillingAppFixture : IAsyncLifetime
{
    private readonly HlsStub package = new();
    private MarqueeApp? app;

    public MarqueeApp App => app ?? throw new InvalidOperationException("The host has not started.");

    /// <summary>The host's clock when it runs on a fake one (then no worker runs: tests drive the scheduler).</summary>
    public FakeTimeProvider? Time { get; protected init; }

    /// <summary>Playback needs an entitlement (<c>Marquee:Billing:RequireEntitlement</c>); off unless a fixture says so.</summary>
    protected bool RequireEntitlement { get; init; }

    /// <summary>Every log line the host writes, when a fixture asks for it (R32's log scan).</summary>
    public LogCapture? Logs { get; protected init; }

    public async Task InitializeAsync()
    {
        await package.InitializeAsync();
        app = await BillingHost.StartAsync(package, Time, requireEntitlement: RequireEntitlement, services: Logs is null ? null : Logs.AddTo);
    }

    public async Task DisposeAsync()
    {
        if (app is not null)
        {
            await app.DisposeAsync();
        }

        await package.DisposeAsync();
    }
}

/// <summary>A billing host on the real clock.</summary>
public sealed class BillingApp : BillingAppFixture;

/// <summary>A billing host on the real clock that keeps every log line it writes (<see cref="BillingAppFixture.Logs"/>).</summary>
public sealed class LoggedBillingApp : BillingAppFixture
{
    public LoggedBillingApp() => Logs = new LogCapture();
}

/// <summary>A billing host on a fake clock starting 2027-03-10 12:00 UTC.</summary>
public sealed class BillingClockApp : BillingAppFixture
{
    public BillingClockApp() => Time = new FakeTimeProvider(new DateTimeOffset(2027, 3, 10, 12, 0, 0, TimeSpan.Zero));
}
