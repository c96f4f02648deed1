using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Marquee.Tests.Support;

namespace Marquee.Tests.Media;

/// <summary>The tus 1.0 upload protocol at /api/media/uploads: core, creation, termination, checksum.</summary>
public sealed class TusUploadTests
{
    private static HttpRequestMessage Tus(HttpMethod method, string path, long? offset = null, byte[]? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("Tus-Resumable", "1.0.0");
        if (offset is { } o)
        {
            request.Headers.Add("Upload-Offset", o.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
        }

        return request;
    }

    private static async Task<string> CreateAsync(HttpClient client, long length, string fileName = "clip.mp4")
    {
        using var create = Tus(HttpMethod.Post, "/api/media/uploads");
        create.Headers.Add("Upload-Length", length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        create.Headers.Add("Upload-Metadata", $"filename {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(fileName))},kind {Convert.ToBase64String("Film"u8.ToArray())}");
        var response = await client.SendAsync(create);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return response.Headers.Location!.ToString();
    }

    private static async Task<long> OffsetAsync(HttpClient client, string location)
    {
        using var head = Tus(HttpMethod.Head, location);
        var response = await client.SendAsync(head);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return long.Parse(response.Headers.GetValues("Upload-Offset").Single(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Options_WhenAsked_AnnouncesVersionExtensionsAndMaxSize()
    {
        await using var app = await MarqueeApp.StartAsync(configure: s => s["Marquee:Media:Uploads:MaxBytes"] = "1000000");

        var response = await app.Client.SendAsync(new HttpRequestMessage(HttpMethod.Options, "/api/media/uploads"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("1.0.0", response.Headers.GetValues("Tus-Version").Single());
        Assert.Contains("creation", response.Headers.GetValues("Tus-Extension").Single(), StringComparison.Ordinal);
        Assert.Contains("termination", response.Headers.GetValues("Tus-Extension").Single(), StringComparison.Ordinal);
        Assert.Equal("1000000", response.Headers.GetValues("Tus-Max-Size").Single());
    }

    [Fact]
    public async Task Upload_WhenSentInTwoChunks_ResumesAtTheServersOffset()
    {
        await using var app = await MarqueeApp.StartAsync();
        var bytes = RandomNumberGenerator.GetBytes(300_000);
        var location = await CreateAsync(app.Client, bytes.Length);
        Assert.Equal(0, await OffsetAsync(app.Client, location));

        var first = await app.Client.SendAsync(Tus(HttpMethod.Patch, location, 0, bytes[..120_000]));
        Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);
        Assert.Equal("120000", first.Headers.GetValues("Upload-Offset").Single());

        var wrongOffset = await app.Client.SendAsync(Tus(HttpMethod.Patch, location, 100_000, bytes[100_000..]));
        Assert.Equal(HttpStatusCode.Conflict, wrongOffset.StatusCode);

        var offset = await OffsetAsync(app.Client, location);
        var rest = Tus(HttpMethod.Patch, location, offset, bytes[(int)offset..]);
        rest.Headers.Add("Upload-Checksum", $"sha256 {Convert.ToBase64String(SHA256.HashData(bytes[(int)offset..]))}");
        var second = await app.Client.SendAsync(rest);

        Assert.Equal(HttpStatusCode.NoContent, second.StatusCode);
        Assert.Equal(bytes.Length, await OffsetAsync(app.Client, location));
        var stored = Directory.GetFiles(Path.Combine(app.DataDir, "media", "sources")).Single(); // handed to the pipeline
        Assert.Equal(bytes, await File.ReadAllBytesAsync(stored));
    }

    [Fact]
    public async Task Patch_WhenChecksumDoesNotMatch_Answers460AndKeepsTheOffset()
    {
        await using var app = await MarqueeApp.StartAsync();
        var bytes = RandomNumberGenerator.GetBytes(10_000);
        var location = await CreateAsync(app.Client, bytes.Length);

        var patch = Tus(HttpMethod.Patch, location, 0, bytes);
        patch.Headers.Add("Upload-Checksum", $"sha1 {Convert.ToBase64String(SHA1.HashData("something else"u8.ToArray()))}");
        var response = await app.Client.SendAsync(patch);

        Assert.Equal(460, (int)response.StatusCode);
        Assert.Equal(0, await OffsetAsync(app.Client, location));
    }

    [Theory]
    [InlineData(0, "clip.mp4", HttpStatusCode.BadRequest)]
    [InlineData(2_000_000, "clip.mp4", HttpStatusCode.RequestEntityTooLarge)]
    [InlineData(1000, "notes.txt", HttpStatusCode.UnsupportedMediaType)]
    public async Task Create_WhenUnacceptable_AnswersProblemDetails(long length, string fileName, HttpStatusCode expected)
    {
        await using var app = await MarqueeApp.StartAsync(configure: s => s["Marquee:Media:Uploads:MaxBytes"] = "1000000");
        using var create = Tus(HttpMethod.Post, "/api/media/uploads");
        create.Headers.Add("Upload-Length", length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        create.Headers.Add("Upload-Metadata", $"filename {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(fileName))}");

        var response = await app.Client.SendAsync(create);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("kind", "Opera")]
    [InlineData("titleId", "not-a-guid")]
    [InlineData("title", "")]
    public async Task Create_WhenTitleMetadataIsBad_RefusesBeforeAnyByteIsSent(string key, string value)
    {
        await using var app = await MarqueeApp.StartAsync();
        using var create = Tus(HttpMethod.Post, "/api/media/uploads");
        create.Headers.Add("Upload-Length", "1000");
        var bad = key == "title" ? new string('x', 301) : value;
        create.Headers.Add("Upload-Metadata",
            $"filename {Convert.ToBase64String("clip.mp4"u8.ToArray())},{key} {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(bad))}");

        var response = await app.Client.SendAsync(create);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.False(Directory.Exists(Path.Combine(app.DataDir, "uploads")) && Directory.EnumerateFiles(Path.Combine(app.DataDir, "uploads")).Any());
    }

    [Fact]
    public async Task Request_WhenTusResumableMissing_Answers412()
    {
        await using var app = await MarqueeApp.StartAsync();
        using var create = new HttpRequestMessage(HttpMethod.Post, "/api/media/uploads");
        create.Headers.Add("Upload-Length", "10");

        var response = await app.Client.SendAsync(create);

        Assert.Equal(HttpStatusCode.PreconditionFailed, response.StatusCode);
        Assert.Equal("1.0.0", response.Headers.GetValues("Tus-Version").Single());
    }

    [Fact]
    public async Task Delete_WhenUploadAbandoned_RemovesItsBytes()
    {
        await using var app = await MarqueeApp.StartAsync();
        var location = await CreateAsync(app.Client, 1000);
        await app.Client.SendAsync(Tus(HttpMethod.Patch, location, 0, new byte[500]));

        var deleted = await app.Client.SendAsync(Tus(HttpMethod.Delete, location));
        var head = await app.Client.SendAsync(Tus(HttpMethod.Head, location));

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        Assert.Empty(Directory.GetFiles(Path.Combine(app.DataDir, "uploads")));
    }

    [Fact]
    [Trait("Category", "Media")]
    public async Task TusJsClient_WhenConnectionIsCutMidway_ResumesAndCompletes()
    {
        var client = await TusClient.EnsureInstalledAsync();
        await using var app = await MarqueeApp.StartAsync();
        var file = Path.Combine(app.DataDir, "big-upload.mp4");
        var bytes = RandomNumberGenerator.GetBytes(24 * 1024 * 1024);
        await File.WriteAllBytesAsync(file, bytes);
        await using var proxy = new CuttingProxy(app.BaseAddress, cutAfterBytes: 10 * 1024 * 1024);

        var (exit, output) = await client.UploadAsync(new Uri(proxy.Address, "/api/media/uploads"), file, chunkBytes: 8 * 1024 * 1024, app.AuthCookieHeader);

        Assert.True(exit == 0, output);
        Assert.Equal(1, proxy.Cuts);
        Assert.Contains("\"retry\"", output, StringComparison.Ordinal); // the cut was noticed and retried
        var stored = Directory.GetFiles(Path.Combine(app.DataDir, "media", "sources")).Single(); // handed to the pipeline
        Assert.Equal(SHA256.HashData(bytes), SHA256.HashData(await File.ReadAllBytesAsync(stored)));
    }
}

/// <summary>tus-js-client, run by Node from tests/tus-client (installed with npm ci on first use).</summary>
public sealed class TusClient
{
    private static readonly SemaphoreSlim Install = new(1, 1);

    private TusClient(string folder) => Folder = folder;

    public string Folder { get; }

    public static async Task<TusClient> EnsureInstalledAsync()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "tests", "tus-client")))
        {
            dir = dir.Parent;
        }

        var folder = Path.Combine(dir?.FullName ?? throw new InvalidOperationException("tests/tus-client not found above the test folder"), "tests", "tus-client");
        await Install.WaitAsync();
        try
        {
            if (!Directory.Exists(Path.Combine(folder, "node_modules", "tus-js-client")))
            {
                var (code, output) = await RunAsync("npm", folder, "ci", "--no-audit", "--no-fund", "--ignore-scripts");
                Assert.True(code == 0, $"npm ci in tests/tus-client failed: {output}");
            }
        }
        finally
        {
            Install.Release();
        }

        return new TusClient(folder);
    }

    /// <summary>Uploads <paramref name="file"/>; <paramref name="environment"/> may carry TUS_TITLE, TUS_KIND and MARQUEE_TUS_HEADERS (a JSON object of extra request headers).</summary>
    public async Task<(int Exit, string Output)> UploadAsync(Uri endpoint, string file, long chunkBytes, IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var (code, output, error) = await Tools.RunAsync("node",
            ["upload.mjs", endpoint.ToString(), file, chunkBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)], Folder, timeout, environment);
        return (code, output + error);
    }

    /// <summary>Uploads as the session of <paramref name="cookieHeader"/> (uploads are for operators), sent by the client as a header.</summary>
    public Task<(int Exit, string Output)> UploadAsync(Uri endpoint, string file, long chunkBytes, string cookieHeader, TimeSpan? timeout = null) =>
        UploadAsync(endpoint, file, chunkBytes, CookieEnvironment(cookieHeader), timeout);

    /// <summary>The environment that makes the node client send <paramref name="cookieHeader"/>.</summary>
    public static Dictionary<string, string> CookieEnvironment(string cookieHeader) => new()
    {
        ["MARQUEE_TUS_HEADERS"] = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["Cookie"] = cookieHeader }),
    };

    private static async Task<(int, string)> RunAsync(string program, string folder, params string[] arguments) =>
        await RunAsync(program, folder, null, arguments);

    private static async Task<(int, string)> RunAsync(string program, string folder, IDictionary<string, string>? environment, params string[] arguments)
    {
        var (code, output, error) = await Tools.RunAsync(program, arguments, folder, environment: environment);
        return (code, output + error);
    }
}
