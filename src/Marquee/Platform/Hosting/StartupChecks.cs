using System.ComponentModel.DataAnnotations;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Web;

namespace Marquee.Platform.Hosting;

/// <summary>Checks configuration before anything starts, so that every problem is reported at once, one line each.</summary>
internal static class StartupChecks
{
    public static void Validate(IConfiguration configuration)
    {
        var problems = new List<string>();

        var marquee = Bind<MarqueeOptions>(configuration, MarqueeOptions.Section, problems);
        // An empty Marquee:DataDir is reported by its [Required]; nothing below may resolve it.
        var dataDirSet = marquee is not null && !string.IsNullOrWhiteSpace(marquee.DataDir);
        if (marquee is not null)
        {
            foreach (var role in marquee.Roles.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                         .Where(r => !MarqueeOptions.KnownRoles.Contains(r, StringComparer.OrdinalIgnoreCase)))
            {
                problems.Add($"Marquee:Roles: '{role}' is not a role; use web, worker or both (comma-separated).");
            }

            if (dataDirSet)
            {
                CheckDataDir(marquee.FullDataDir, problems);
            }
        }

        try
        {
            _ = DatabaseSettings.From(configuration);
        }
        catch (StartupException ex)
        {
            problems.Add(ex.Message);
        }
        catch (ArgumentException) when (!dataDirSet)
        {
            // The SQLite file would live in the data folder, which is already reported as missing.
        }

        Bind<WebOptions>(configuration, WebOptions.Section, problems);
        Bind<EventsOptions>(configuration, EventsOptions.Section, problems);

        var urls = configuration["urls"] ?? configuration["Urls"];
        if (!string.IsNullOrWhiteSpace(urls))
        {
            foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var probe = url.Replace("://*", "://localhost", StringComparison.Ordinal).Replace("://+", "://localhost", StringComparison.Ordinal);
                if (!Uri.TryCreate(probe, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                {
                    problems.Add($"urls: '{url}' is not an http:// or https:// address to listen on.");
                }
            }
        }

        CheckCertificateFiles(configuration, problems);
        CheckKeyRing(configuration, problems);

        if (problems.Count > 0)
        {
            throw new StartupException(problems[0]) { Problems = problems };
        }
    }

    private static T? Bind<T>(IConfiguration configuration, string section, List<string> problems)
        where T : class, new()
    {
        T options;
        try
        {
            options = configuration.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException ex)
        {
            problems.Add($"{section}: {DatabaseMigrator.Innermost(ex).Message}");
            return null;
        }

        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
        {
            problems.AddRange(results.Select(r => r.MemberNames.Any()
                ? $"{section}:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}"
                : r.ErrorMessage ?? $"{section} is not valid."));
        }

        return options;
    }

    /// <summary>Kestrel's certificate files (Kestrel:Certificates:NAME and Kestrel:Endpoints:NAME:Certificate) must exist.</summary>
    private static void CheckCertificateFiles(IConfiguration configuration, List<string> problems)
    {
        var certificates = configuration.GetSection("Kestrel:Certificates").GetChildren()
            .Concat(configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e.GetSection("Certificate")));
        foreach (var certificate in certificates)
        {
            foreach (var key in (string[])["Path", "KeyPath"])
            {
                if (certificate[key] is { Length: > 0 } path)
                {
                    // Kestrel resolves a relative path against the content root, which is the program's folder.
                    var full = Path.GetFullPath(path, AppContext.BaseDirectory);
                    if (!File.Exists(full))
                    {
                        problems.Add($"{certificate.Path}:{key}: the file '{full}' does not exist.");
                    }
                }
            }
        }
    }

    /// <summary>The key ring's certificates must load, with a private key.</summary>
    private static void CheckKeyRing(IConfiguration configuration, List<string> problems)
    {
        var keyRing = Bind<KeyRingOptions>(configuration, KeyRingOptions.Section, problems);
        if (keyRing is not { Encrypted: true })
        {
            return;
        }

        foreach (var path in (string[])[keyRing.CertificatePath!, .. keyRing.PreviousPaths()])
        {
            try
            {
                keyRing.Load(path).Dispose();
            }
            catch (StartupException ex)
            {
                problems.Add(ex.Message);
            }
        }
    }

    private static void CheckDataDir(string dataDir, List<string> problems)
    {
        try
        {
            Directory.CreateDirectory(dataDir);
            var probe = Path.Combine(dataDir, $".write-probe-{Environment.ProcessId}");
            File.WriteAllText(probe, "ok");
            File.Delete(probe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            problems.Add($"Marquee:DataDir '{dataDir}' is not a writable folder: {ex.Message}");
        }
    }
}
