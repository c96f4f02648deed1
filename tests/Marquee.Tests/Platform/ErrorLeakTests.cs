using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Marquee.Catalog.Data;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Platform;

/// <summary>
/// R31: forced failures (a body that is not JSON, an unknown route, a database table gone) answer RFC 9457 problem
/// details in Production, with nothing of the inside: no stack trace, no SQL or database error text, no server path.
/// </summary>
public sealed partial class ErrorLeakTests
{
    [GeneratedRegex(@"\bat [A-Z][\w.`]+\.[\w<>`]+\(|\.cs:line \d+|SqliteException|SQLite Error|Npgsql|PostgresException|SQL logic error|no such (table|column)|does not exist|SELECT |FROM |System\.[\w.]+Exception|JsonException|/tmp/|/work/|/home/|/root/")]
    private static partial Regex Leak();

    [Fact]
    public void Leak_pattern_finds_a_stack_trace_sql_error_and_a_path() // negative control for the assertions below
    {
        string trace;
        try
        {
            throw new InvalidOperationException("boom");
        }
        catch (InvalidOperationException e)
        {
            trace = e.ToString();
        }

        Assert.Matches(Leak(), trace);
        Assert.Matches(Leak(), "SQLite Error 1: 'no such table: catalog_titles'.");
        Assert.Matches(Leak(), "could not open /tmp/marquee-test/data/marquee.db");
        Assert.DoesNotMatch(Leak(), """{"type":"https://tools.ietf.org/html/rfc9110#section-15.6.1","title":"An error occurred while processing your request.","status":500}""");
    }

    [Fact]
    public async Task Forced_failures_in_production_answer_problem_details_without_internals()
    {
        await using var app = await MarqueeApp.StartAsync(); // Production

        // A body that is not JSON, on an endpoint that reads JSON.
        using var badJson = new StringContent("{\"name\": \"x\", \"kind\": ", Encoding.UTF8, "application/json");
        var bad = await app.Client.PostAsync("/api/catalog/titles", badJson);
        await AssertProblemWithoutInternalsAsync(bad, HttpStatusCode.BadRequest, app.DataDir);

        // A route nobody serves.
        await AssertProblemWithoutInternalsAsync(await app.AnonymousClient.GetAsync("/api/no-such-module/things?id=1"), HttpStatusCode.NotFound, app.DataDir);

        // The database fails under a request: the catalogue's titles table is renamed away. Before, the same request works.
        Assert.Equal(HttpStatusCode.OK, (await app.AnonymousClient.GetAsync("/api/catalog/titles?kind=Film&take=5")).StatusCode);
        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<CatalogDb>();
            var entity = db.Model.FindEntityType(typeof(Title))!;
            var sql = db.GetService<ISqlGenerationHelper>();
            var table = sql.DelimitIdentifier(entity.GetTableName()!, entity.GetSchema());
            var rename = "ALTER TABLE " + table + " RENAME TO " + sql.DelimitIdentifier("titles_gone_r31"); // identifiers only, no input
            return await db.Database.ExecuteSqlRawAsync(rename);
        });
        var failed = await app.AnonymousClient.GetAsync("/api/catalog/titles?kind=Film&take=5");
        Assert.True(failed.StatusCode is HttpStatusCode.InternalServerError or HttpStatusCode.ServiceUnavailable, $"{failed.StatusCode}");
        await AssertProblemWithoutInternalsAsync(failed, failed.StatusCode, app.DataDir);
    }

    [Theory] // found by bench/web-scan.sh (wapiti's exec module): a typed query parameter of a page threw on text, a 500
    [InlineData("/console/catalog/value?title=%7Cenv")]
    [InlineData("/console/catalog/value?title=00000000-0000-0000-0000-00000000000")]
    [InlineData("/device?approved=%3Benv%3B&denied=x&invalid=1e9")]
    public async Task A_page_query_parameter_that_does_not_parse_is_ignored_not_a_500(string path)
    {
        await using var app = await MarqueeApp.StartAsync();

        var response = await app.Client.GetAsync(path); // the admin: the console page renders for it

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}");
        Assert.DoesNotMatch(Leak(), body);
    }

    private static async Task AssertProblemWithoutInternalsAsync(HttpResponseMessage response, HttpStatusCode status, string dataDir)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"{response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("\"status\":" + (int)status, body, StringComparison.Ordinal);
        Assert.DoesNotMatch(Leak(), body);
        Assert.DoesNotContain(dataDir, body, StringComparison.Ordinal);
        Assert.DoesNotContain("titles_gone_r31", body, StringComparison.Ordinal);
    }
}
