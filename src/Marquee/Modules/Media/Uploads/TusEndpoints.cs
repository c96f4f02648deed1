using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Marquee.Platform.Web;
using Microsoft.Extensions.Options;

namespace Marquee.Media.Uploads;

/// <summary>Upload limits, bound from <c>Marquee:Media:Uploads</c>.</summary>
internal sealed class UploadOptions
{
    public const string Section = "Marquee:Media:Uploads";

    [Range(1, long.MaxValue)]
    public long MaxBytes { get; set; } = 50L * 1024 * 1024 * 1024;

    /// <summary>An unfinished upload is kept this long after its creation.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")]
    public TimeSpan Expiry { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How often expired uploads are deleted and failed hand-offs tried again.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "1.00:00:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>File name extensions accepted (the file is probed anyway before anything is done with it).</summary>
    public List<string> Extensions { get; set; } =
        [".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mxf", ".ts", ".m4a", ".mp3", ".aac", ".ogg", ".oga", ".opus", ".flac", ".wav"];
}

/// <summary>Told when an upload has all its bytes, to hand the file on (Media ingests it).</summary>
internal interface IUploadCompletion
{
    Task CompletedAsync(UploadInfo upload, string dataPath, RequestActor actor, CancellationToken cancellationToken);
}

/// <summary>
/// The tus 1.0 resumable upload protocol (core, creation, termination, checksum with sha1/sha256), written here
/// because NuGet serves no tus server for .NET 10 (see DESIGN.md). Any tus client (tus-js-client in the console)
/// can upload files of many gigabytes through broken connections and resume where the server stopped.
/// </summary>
internal static class TusEndpoints
{
    private const string Version = "1.0.0";

    public static void MapTus(this RouteGroupBuilder group)
    {
        var uploads = group.MapGroup("/uploads").RequireAuthorization(Policies.Console).WithTags("Media uploads (tus 1.0)")
            .AddEndpointFilter(async (context, next) =>
            {
                var http = context.HttpContext;
                http.Response.Headers["Tus-Resumable"] = Version;
                var method = http.Request.Method;
                if (!HttpMethods.IsOptions(method) && http.Request.Headers["Tus-Resumable"] != Version)
                {
                    http.Response.Headers["Tus-Version"] = Version;
                    return TypedResults.Problem(statusCode: StatusCodes.Status412PreconditionFailed, title: "Unsupported tus version",
                        detail: $"This server speaks tus {Version}; send 'Tus-Resumable: {Version}'.");
                }

                return await next(context);
            });

        uploads.MapMethods("", ["OPTIONS"], (HttpContext http, IOptions<UploadOptions> options) =>
        {
            http.Response.Headers["Tus-Version"] = Version;
            http.Response.Headers["Tus-Extension"] = "creation,termination,checksum,expiration";
            http.Response.Headers["Tus-Max-Size"] = options.Value.MaxBytes.ToString(CultureInfo.InvariantCulture);
            http.Response.Headers["Tus-Checksum-Algorithm"] = "sha1,sha256";
            return TypedResults.NoContent();
        }).WithName("TusOptions").WithSummary("tus capabilities.");

        uploads.MapPost("", async (HttpContext http, UploadStore store, IOptions<UploadOptions> options, TimeProvider time, CancellationToken ct) =>
        {
            var limits = options.Value;
            if (CheckCreation(http.Request.Headers["Upload-Length"], http.Request.Headers["Upload-Metadata"], limits, out var length, out var metadata) is { } refused)
            {
                return Problem(refused.Status, refused.Title, refused.Detail);
            }

            var now = time.GetUtcNow();
            var info = await store.CreateAsync(new UploadInfo(Guid.CreateVersion7(now), length, metadata, now, now + limits.Expiry, RequestActor.Of(http).Name), ct);
            http.Response.Headers["Upload-Expires"] = info.ExpiresAt.ToString("R", CultureInfo.InvariantCulture);
            return Results.Created($"{http.Request.PathBase}{http.Request.Path}/{info.Id:N}", null);
        }).WithName("TusCreate").WithSummary("Creates an upload (tus creation).");

        uploads.MapMethods("/{id:guid}", ["HEAD"], async (Guid id, HttpContext http, UploadStore store, TimeProvider time, CancellationToken ct) =>
        {
            var info = await store.FindAsync(id, ct);
            if (info is null || (!info.Completed && info.ExpiresAt < time.GetUtcNow()))
            {
                return (IResult)TypedResults.NotFound();
            }

            http.Response.Headers.CacheControl = "no-store";
            http.Response.Headers["Upload-Offset"] = store.OffsetOf(info).ToString(CultureInfo.InvariantCulture);
            http.Response.Headers["Upload-Length"] = info.Length.ToString(CultureInfo.InvariantCulture);
            http.Response.Headers["Upload-Expires"] = info.ExpiresAt.ToString("R", CultureInfo.InvariantCulture);
            return TypedResults.Ok();
        }).WithName("TusHead").WithSummary("How many bytes the server has (tus core).");

        uploads.MapMethods("/{id:guid}", ["PATCH"], async (Guid id, HttpContext http, UploadStore store, TimeProvider time,
            UploadHandOff handOff, CancellationToken ct) =>
        {
            if (http.Request.ContentType != "application/offset+octet-stream")
            {
                return Problem(StatusCodes.Status415UnsupportedMediaType, "Wrong content type", "PATCH bodies are 'application/offset+octet-stream'.");
            }

            var info = await store.FindAsync(id, ct);
            if (info is null || (!info.Completed && info.ExpiresAt < time.GetUtcNow()))
            {
                return Problem(StatusCodes.Status404NotFound, "No such upload", "The upload does not exist or has expired; start a new one.");
            }

            if (!TryParseSize(http.Request.Headers["Upload-Offset"], out var offset))
            {
                return Problem(StatusCodes.Status400BadRequest, "Upload-Offset missing", "Send the offset this chunk starts at in Upload-Offset.");
            }

            if (!TryParseChecksum(http.Request.Headers["Upload-Checksum"], out var algorithm, out var expected))
            {
                return Problem(StatusCodes.Status400BadRequest, "Unsupported checksum", "Upload-Checksum is 'sha1 <base64>' or 'sha256 <base64>'.");
            }

            using var held = await store.TryLockAsync(id);
            if (held is null)
            {
                return Problem(StatusCodes.Status409Conflict, "Upload busy", "Another request is writing to this upload; ask its offset with HEAD and try again.");
            }

            var current = store.OffsetOf(info);
            if ((info.Completed || info.Received) && offset == current)
            {
                if (!info.Completed)
                {
                    await handOff.TryHandOffAsync(id, RequestActor.Of(http), CancellationToken.None); // a client asking again: try now
                }

                http.Response.Headers["Upload-Offset"] = current.ToString(CultureInfo.InvariantCulture);
                return TypedResults.NoContent(); // already whole: nothing to add
            }

            if (offset != current)
            {
                return Problem(StatusCodes.Status409Conflict, "Offset mismatch", $"The server has {current} bytes of this upload; send the chunk that starts there.");
            }

            Func<Stream, long, Task<bool>>? verify = algorithm is null ? null : async (file, from) =>
            {
                file.Seek(from, SeekOrigin.Begin);
                using var hash = IncrementalHash.CreateHash(algorithm.Value);
                var buffer = new byte[81920];
                int read;
                while ((read = await file.ReadAsync(buffer, CancellationToken.None)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                }

                return CryptographicOperations.FixedTimeEquals(hash.GetHashAndReset(), expected);
            };
            var (newOffset, verified) = await store.AppendAsync(id, offset, info.Length, http.Request.Body, verify, ct);
            if (!verified)
            {
                return Problem(460, "Checksum mismatch", "The chunk's checksum does not match its bytes; it was discarded. Send it again.");
            }

            if (newOffset == info.Length && !info.Completed)
            {
                // Every byte is kept whatever happens now: a failed hand-off is logged and tried again by the sweeper,
                // so the client is told its upload is whole either way (tus has no state for "received, not processed").
                await store.MarkReceivedAsync(info, CancellationToken.None);
                await handOff.TryHandOffAsync(id, RequestActor.Of(http), CancellationToken.None);
            }

            http.Response.Headers["Upload-Offset"] = newOffset.ToString(CultureInfo.InvariantCulture);
            http.Response.Headers["Upload-Expires"] = info.ExpiresAt.ToString("R", CultureInfo.InvariantCulture);
            return TypedResults.NoContent();
        }).WithName("TusPatch").WithSummary("Appends bytes at an offset (tus core, checksum).")
            // One PATCH may carry a whole file of many gigabytes; the declared Upload-Length bounds what is kept.
            .WithMetadata(new Microsoft.AspNetCore.Mvc.DisableRequestSizeLimitAttribute());

        uploads.MapDelete("/{id:guid}", async (Guid id, UploadStore store, CancellationToken ct) =>
        {
            var info = await store.FindAsync(id, ct);
            if (info is null)
            {
                return (IResult)TypedResults.NotFound();
            }

            using var held = await store.TryLockAsync(id);
            if (held is null)
            {
                return Problem(StatusCodes.Status409Conflict, "Upload busy", "Another request is writing to this upload.");
            }

            store.Delete(id);
            return TypedResults.NoContent();
        }).WithName("TusDelete").WithSummary("Abandons an upload (tus termination).");
    }

    private static IResult Problem(int status, string title, string detail) =>
        TypedResults.Problem(statusCode: status, title: title, detail: detail);

    /// <summary>
    /// A creation request's headers (<c>Upload-Length</c>, <c>Upload-Metadata</c>) checked against the limits: null when the
    /// upload may be created, else the problem to answer. Everything a client sends before any byte is stored.
    /// </summary>
    internal static (int Status, string Title, string Detail)? CheckCreation(string? uploadLength, string? uploadMetadata, UploadOptions limits,
        out long length, out Dictionary<string, string> metadata)
    {
        metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!TryParseSize(uploadLength, out length))
        {
            return (StatusCodes.Status400BadRequest, "Upload-Length missing", "Send the file's size in bytes in the Upload-Length header (deferred length is not supported).");
        }

        if (length == 0)
        {
            return (StatusCodes.Status400BadRequest, "Empty file", "A zero-length file has nothing to play.");
        }

        if (length > limits.MaxBytes)
        {
            return (StatusCodes.Status413PayloadTooLarge, "File too large", $"Files may have at most {limits.MaxBytes} bytes; this one has {length}.");
        }

        if (!TryParseMetadata(uploadMetadata, out metadata))
        {
            return (StatusCodes.Status400BadRequest, "Bad Upload-Metadata", "Upload-Metadata is a comma-separated list of 'key base64value' pairs.");
        }

        // The title the finished file will go to is checked now, not after gigabytes have arrived.
        if (metadata.GetValueOrDefault("title") is { Length: > 300 })
        {
            return (StatusCodes.Status400BadRequest, "Title too long", "A title's name has at most 300 characters.");
        }

        if (metadata.GetValueOrDefault("kind") is { Length: > 0 } kind && !Enum.TryParse<Marquee.Catalog.Contracts.TitleKind>(kind, ignoreCase: true, out _))
        {
            return (StatusCodes.Status400BadRequest, "Unknown kind", $"'{kind}' is not a kind of title; use Film, Episode, Track or Podcast.");
        }

        if (metadata.GetValueOrDefault("titleId") is { Length: > 0 } titleId && !Guid.TryParse(titleId, out _))
        {
            return (StatusCodes.Status400BadRequest, "Bad titleId", $"'{titleId}' is not a title id.");
        }

        if (metadata.GetValueOrDefault("priority") is { Length: > 0 } priority && !UploadIngest.TryParsePriority(priority, out _))
        {
            return (StatusCodes.Status400BadRequest, "Bad priority", $"'{priority}' is not a priority; use a whole number from {MediaJobs.MinPriority} to {MediaJobs.MaxPriority}.");
        }

        var fileName = metadata.GetValueOrDefault("filename") ?? metadata.GetValueOrDefault("name") ?? "";
        var extension = Path.GetExtension(fileName).ToLowerInvariant();
        if (!limits.Extensions.Contains(extension, StringComparer.OrdinalIgnoreCase))
        {
            return (StatusCodes.Status415UnsupportedMediaType, "File type not accepted",
                $"'{fileName}' is not one of the accepted media files ({string.Join(", ", limits.Extensions)}). Send its name as 'filename' in Upload-Metadata.");
        }

        return null;
    }

    /// <summary><c>Upload-Length</c> and <c>Upload-Offset</c>: digits only, a whole number of bytes that fits a long.</summary>
    internal static bool TryParseSize(string? header, out long value) =>
        long.TryParse(header, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    internal static bool TryParseMetadata(string? header, out Dictionary<string, string> metadata)
    {
        metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(header))
        {
            return true;
        }

        foreach (var pair in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split(' ', 2, StringSplitOptions.TrimEntries);
            if (parts[0].Length == 0 || metadata.ContainsKey(parts[0]))
            {
                return false;
            }

            try
            {
                metadata[parts[0]] = parts.Length == 2 ? Encoding.UTF8.GetString(Convert.FromBase64String(parts[1])) : "";
            }
            catch (FormatException)
            {
                return false;
            }
        }

        return true;
    }

    internal static bool TryParseChecksum(string? header, out HashAlgorithmName? algorithm, out byte[] expected)
    {
        algorithm = null;
        expected = [];
        if (string.IsNullOrWhiteSpace(header))
        {
            return true;
        }

        var parts = header.Split(' ', 2, StringSplitOptions.TrimEntries);
        algorithm = parts[0].ToLowerInvariant() switch
        {
            "sha1" => HashAlgorithmName.SHA1,
            "sha256" => HashAlgorithmName.SHA256,
            _ => null,
        };
        if (algorithm is null || parts.Length != 2)
        {
            return false;
        }

        try
        {
            expected = Convert.FromBase64String(parts[1]);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
