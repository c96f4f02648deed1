using System.ComponentModel.DataAnnotations;

namespace Marquee.Platform;

/// <summary>Options of the whole program, bound from the <c>Marquee</c> section.</summary>
public sealed class MarqueeOptions
{
    public const string Section = "Marquee";

    /// <summary>Folder for the SQLite file, media and other local state. Relative paths are resolved against the working directory.</summary>
    [Required]
    public string DataDir { get; set; } = "./data";

    /// <summary>What this process does: <c>web</c> (pages, API), <c>worker</c> (background work: event delivery, jobs). Comma-separated.</summary>
    public string Roles { get; set; } = "web,worker";

    /// <summary>Below this much free space on the data folder's disk, <c>/health/ready</c> reports <c>Degraded</c> (R4).</summary>
    [Range(0, 1_048_576)]
    public int MinFreeDiskMb { get; set; } = 512;

    public string FullDataDir => Path.GetFullPath(DataDir);

    public bool HasRole(string role) =>
        Roles.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Contains(role, StringComparer.OrdinalIgnoreCase);

    internal static readonly string[] KnownRoles = ["web", "worker"];
}
