using System.Data.Common;
using System.Text;
using Marquee.Identity.Data;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Compliance;

/// <summary>
/// Reads every row of every table of the database (all modules: found through sqlite_master or information_schema,
/// not through the modules' models) and every file of the data folder, looking for a person's identifiers: the
/// account id as text (any case, with or without dashes), as a uuid and as its 16 bytes in both byte orders; the
/// e-mail; the display name; a phone number.
/// </summary>
internal sealed record PersonalDataScan(Guid AccountId, IReadOnlyList<string> Texts)
{
    public static PersonalDataScan For(Guid accountId, params string?[] texts) =>
        new(accountId, [.. texts.Where(t => !string.IsNullOrEmpty(t)).Select(t => t!), accountId.ToString(), accountId.ToString("N")]);

    /// <summary>Where the identifiers occur, as <c>table.column: value</c> (empty when nowhere); also how many tables and rows were read.</summary>
    public async Task<(List<string> Found, int Tables, long Rows)> ScanDatabaseAsync(MarqueeApp app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var connection = scope.ServiceProvider.GetRequiredService<IdentityDb>().Database.GetDbConnection();
        await connection.OpenAsync();
        var tables = new List<string>();
        await using (var list = connection.CreateCommand())
        {
            list.CommandText = TestDatabase.IsPostgres
                ? "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
                : "SELECT '\"' || name || '\"' FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1";
            await using var reader = await list.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }

        var found = new List<string>();
        long rows = 0;
        foreach (var table in tables)
        {
            await using var select = connection.CreateCommand();
            select.CommandText = $"SELECT * FROM {table}";
            await using var reader = await select.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                rows++;
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    if (!reader.IsDBNull(i) && Match(reader.GetValue(i)) is { } hit)
                    {
                        found.Add($"{table}.{reader.GetName(i)}: {hit}");
                    }
                }
            }
        }

        return (found, tables.Count, rows);
    }

    /// <summary>Files of the data folder (relative paths) whose bytes hold an identifier, optionally outside some folders.</summary>
    /// <remarks>
    /// The erasure register (<c>privacy/erasures.log</c>) is the one file allowed to keep the account id (and the time of its
    /// erasure): a restore of an older backup needs it to erase the account again. It is searched for everything else.
    /// </remarks>
    public List<string> ScanFiles(string dataDir)
    {
        var texts = Texts.SelectMany(t => new[] { Encoding.UTF8.GetBytes(t), Encoding.UTF8.GetBytes(t.ToUpperInvariant()), Encoding.Unicode.GetBytes(t) }).ToList();
        var ids = new[] { AccountId.ToString(), AccountId.ToString("N") };
        var notIds = Texts.Where(t => !ids.Contains(t, StringComparer.OrdinalIgnoreCase))
            .SelectMany(t => new[] { Encoding.UTF8.GetBytes(t), Encoding.UTF8.GetBytes(t.ToUpperInvariant()), Encoding.Unicode.GetBytes(t) }).ToList();
        var needles = texts.Concat([AccountId.ToByteArray(), AccountId.ToByteArray(bigEndian: true)]).ToList();
        var found = new List<string>();
        foreach (var file in Directory.EnumerateFiles(dataDir, "*", SearchOption.AllDirectories))
        {
            if (Path.GetRelativePath(dataDir, file).Replace('\\', '/') == "privacy/erasures.log")
            {
                var register = File.ReadAllBytes(file);
                if (notIds.Any(n => register.AsSpan().IndexOf(n) >= 0))
                {
                    found.Add(Path.GetRelativePath(dataDir, file));
                }

                continue;
            }

            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(file);
            }
            catch (IOException)
            {
                continue; // a database file held open exclusively: it is scanned through SQL
            }

            if (needles.Any(n => bytes.AsSpan().IndexOf(n) >= 0))
            {
                found.Add(Path.GetRelativePath(dataDir, file));
            }
        }

        return found;
    }

    private string? Match(object value)
    {
        switch (value)
        {
            case string s:
                return Texts.Any(t => s.Contains(t, StringComparison.OrdinalIgnoreCase)) ? Excerpt(s) : null;
            case Guid g:
                return g == AccountId ? g.ToString() : null;
            case byte[] b:
                var forms = Texts.Select(Encoding.UTF8.GetBytes).Concat([AccountId.ToByteArray(), AccountId.ToByteArray(bigEndian: true)]);
                return forms.Any(f => b.AsSpan().IndexOf(f) >= 0) ? $"({b.Length} bytes)" : null;
            default:
                return null;
        }
    }

    private static string Excerpt(string s) => s.Length <= 160 ? s : s[..160] + "...";
}
