using System.Net.Http.Json;
using System.Text.Json;

namespace Marquee.Tests.Resilience;

/// <summary>
/// The invariants of the write harnesses (R4, R5): titles created through the API, each with its audit request in the
/// outbox of the same transaction. Every acknowledged title exists, no title exists twice (names are unique per request),
/// every title is audited exactly once, and no audit line points at a title that does not exist.
/// </summary>
internal static class WrittenTitles
{
    public const string AuditAction = "catalog.title-created";

    public static async Task<List<(Guid Id, string Name)>> ListAsync(HttpClient client, string prefix)
    {
        var all = new List<(Guid, string)>();
        for (var skip = 0; ; skip += 200)
        {
            var page = await client.GetFromJsonAsync<JsonElement[]>($"/api/catalog/titles?skip={skip}&take=200");
            all.AddRange(page!.Select(t => (t.GetProperty("id").GetGuid(), t.GetProperty("name").GetString()!))
                .Where(t => t.Item2.StartsWith(prefix, StringComparison.Ordinal)));
            if (page!.Length < 200)
            {
                return all;
            }
        }
    }

    public static async Task<List<Guid>> AuditedAsync(HttpClient client)
    {
        var lines = await client.GetFromJsonAsync<JsonElement[]>($"/api/compliance/audit?action={AuditAction}&take=5000");
        Assert.True(lines!.Length < 5000, "more audit lines than one page: raise take or page through");
        return [.. lines.Select(l => Guid.Parse(l.GetProperty("target").GetString()!["title:".Length..]))];
    }

    public static List<string> Verify(IReadOnlyCollection<Guid> acknowledged, IReadOnlyList<(Guid Id, string Name)> titles, IReadOnlyList<Guid> audited)
    {
        var violations = new List<string>();
        var existing = titles.Select(t => t.Id).ToHashSet();
        var counts = audited.Where(existing.Contains).GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count());
        foreach (var (id, _) in titles)
        {
            var n = counts.GetValueOrDefault(id);
            if (n != 1)
            {
                violations.Add(n == 0 ? $"title {id} was never audited: its message was lost" : $"title {id} was audited {n} times");
            }
        }

        violations.AddRange(titles.GroupBy(t => t.Name).Where(g => g.Count() > 1).Select(g => $"'{g.Key}' exists {g.Count()} times: a write applied twice"));
        violations.AddRange(acknowledged.Where(id => !existing.Contains(id)).Select(id => $"title {id} was acknowledged but does not exist"));
        return violations;
    }
}
