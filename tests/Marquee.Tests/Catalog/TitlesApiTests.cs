using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Tests.Support;

namespace Marquee.Tests.Catalog;

public sealed class TitlesApiTests
{
    [Fact]
    public async Task CreateTitle_WhenValid_IsListedAndAudited()
    {
        await using var app = await MarqueeApp.StartAsync();

        var response = await app.PostJsonAsync("/api/catalog/titles", new { name = "Sintel", kind = "Film", durationSeconds = 888 });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("sintel", created.GetProperty("slug").GetString());
        Assert.Equal("Film", created.GetProperty("kind").GetString());
        var id = created.GetProperty("id").GetString();
        Assert.Equal(response.Headers.Location!.ToString(), $"/api/catalog/titles/{id}");

        var fetched = await app.Client.GetFromJsonAsync<JsonElement>($"/api/catalog/titles/{id}");
        Assert.Equal("Sintel", fetched.GetProperty("name").GetString());

        // The audit line travels through the outbox, committed with the title itself.
        var audit = await Poll.UntilAsync(
            () => app.Client.GetFromJsonAsync<JsonElement[]>("/api/compliance/audit?action=catalog.title-created")!,
            lines => lines!.Length == 1, what: "the audit line");
        Assert.Equal($"title:{id}", audit![0].GetProperty("target").GetString());
        Assert.Equal(MarqueeApp.AdminEmail, audit[0].GetProperty("actor").GetString());
        Assert.Equal("127.0.0.1", audit[0].GetProperty("from").GetString());
    }

    [Fact]
    public async Task CreateTitle_WhenNameMissing_AnswersProblemDetails()
    {
        await using var app = await MarqueeApp.StartAsync();

        var response = await app.PostJsonAsync("/api/catalog/titles", new { name = "", kind = "Film" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("Name", out _), problem.ToString());
        var titles = await app.Client.GetFromJsonAsync<JsonElement[]>("/api/catalog/titles");
        Assert.Empty(titles!);
    }

    [Fact]
    public async Task CreateTitle_WhenBodyIsNotJson_AnswersProblemDetails()
    {
        await using var app = await MarqueeApp.StartAsync();

        using var content = new StringContent("{not json", System.Text.Encoding.UTF8, "application/json");
        var response = await app.Client.PostAsync("/api/catalog/titles", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateTitle_WhenSameNameTwice_GetsDistinctSlugs()
    {
        await using var app = await MarqueeApp.StartAsync();

        var first = await (await app.PostJsonAsync("/api/catalog/titles", new { name = "Élan Vital!", kind = "Track" })).Content.ReadFromJsonAsync<JsonElement>();
        var second = await (await app.PostJsonAsync("/api/catalog/titles", new { name = "Élan Vital!", kind = "Track" })).Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal("elan-vital", first.GetProperty("slug").GetString());
        Assert.Equal("elan-vital-2", second.GetProperty("slug").GetString());
    }

    [Fact]
    public async Task Health_WhenStarted_IsReady()
    {
        await using var app = await MarqueeApp.StartAsync();

        var response = await app.Client.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Healthy", body.GetProperty("status").GetString());
    }
}
