using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.Catalog.Data;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Marquee.Tests.Resilience;

/// <summary>
/// R31, DB down end to end: the host's PostgreSQL server is stopped under requests (Production). A read and a write of the
/// API answer 503 problem details with <c>Retry-After</c> and nothing of the inside (no Npgsql or socket error text, no
/// host or port, no connection string, no stack trace, no server path); a page answers its error page with nothing of it
/// either; the write that failed was not applied (after the database is back, its title does not exist).
/// </summary>
[Trait("Category", "Resilience")]
public sealed partial class DatabaseDownTests(ThrowawayPostgres postgres) : IClassFixture<ThrowawayPostgres>
{
    [GeneratedRegex(@"\bat [A-Z][\w.`]+\.[\w<>`]+\(|\.cs:line \d+|Npgsql|PostgresException|SocketException|System\.[\w.]+Exception|Connection refused|Failed to connect|127\.0\.0\.1:\d+|Host=|Username=|postgres|/tmp/|/work/|/home/|/root/", RegexOptions.IgnoreCase)]
    private static partial Regex Leak();

    [Fact]
    public async Task Stopped_postgres_answers_503_problem_details_without_internals_and_applies_nothing()
    {
        await using var app = await MarqueeApp.StartAsync(c =>
        {
            c["Marquee:Database:Provider"] = "Postgres";
            c["ConnectionStrings:Marquee"] = postgres.ConnectionString + ";Timeout=3";
            c["Marquee:Database:MaxRetryCount"] = "2"; // a short retry budget: the test waits for it to run out
            c["Marquee:Database:MaxRetryDelay"] = "00:00:00.200";
        });
        var anonymous = app.AnonymousClient;
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/api/catalog/titles?kind=Film&take=5")).StatusCode); // control: up
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/browse")).StatusCode);

        await postgres.StopAsync();
        try
        {
            // Negative control: the failure itself names the inside (driver, socket error, host and port), and the check finds it.
            var direct = await Assert.ThrowsAnyAsync<NpgsqlException>(async () =>
            {
                await using var connection = new NpgsqlConnection(postgres.ConnectionString + ";Pooling=false;Timeout=3");
                await connection.OpenAsync();
            });
            Assert.Matches(Leak(), direct.ToString());

            var read = await anonymous.GetAsync("/api/catalog/titles?kind=Film&take=5");
            await AssertUnavailableAsync(read);
            var write = await app.Client.PostAsJsonAsync("/api/catalog/titles", new { name = "Written while down", kind = "Film", synopsis = "Never stored" });
            await AssertUnavailableAsync(write);

            var page = await anonymous.GetAsync("/browse");
            Assert.True((int)page.StatusCode >= 500, $"{page.StatusCode}");
            Assert.DoesNotMatch(Leak(), await page.Content.ReadAsStringAsync());
        }
        finally
        {
            await postgres.StartAgainAsync();
        }

        // Back: served again (the pool's dead connections are retried away), and the failed write was never applied.
        await Poll.UntilAsync(async () => (await anonymous.GetAsync("/api/catalog/titles?kind=Film&take=5")).StatusCode,
            s => s == HttpStatusCode.OK, TimeSpan.FromSeconds(20), "the API to answer again");
        Assert.False(await app.ScopedAsync(sp => sp.GetRequiredService<CatalogDb>().Titles.AnyAsync(t => t.Name == "Written while down")));
    }

    private static async Task AssertUnavailableAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.Contains("Retry-After"), "no Retry-After");
        Assert.Equal(503, JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32());
        Assert.DoesNotMatch(Leak(), body);
    }
}
