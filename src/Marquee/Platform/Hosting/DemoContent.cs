namespace Marquee.Platform.Hosting;

/// <summary>A module's part of <c>marquee demo</c>: adds sample content when it is not there yet (idempotent).</summary>
public interface IDemoContent
{
    Task SeedAsync(CancellationToken cancellationToken);
}
