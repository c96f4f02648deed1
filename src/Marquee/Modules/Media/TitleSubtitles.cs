using System.Text.Json;
using Marquee.Catalog.Contracts;
using Marquee.Media.Contracts;
using Marquee.Platform.Audit;
using Marquee.Platform.Events;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Marquee.Media;

/// <summary>An uploaded subtitle track of a title, as the API shows it.</summary>
internal sealed record UploadedSubtitle(string Language, string Label, long Bytes, DateTimeOffset UploadedAt);

/// <summary>
/// Subtitles operators upload for a title, kept on disk (no table) under <c>&lt;media&gt;/subtitles/&lt;title&gt;/</c>: the WebVTT
/// file <c>&lt;language&gt;.vtt</c> and its description <c>&lt;language&gt;.json</c> (written last: a track exists once its description does).
/// </summary>
internal sealed class SubtitleStore(MediaStorage storage)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public string FolderOf(Guid titleId) => Path.Combine(storage.Root, "subtitles", titleId.ToString("N"));

    /// <summary>Where uploads are written and converted before they are kept (inside the media store).</summary>
    public string Incoming => Path.Combine(storage.Root, "subtitles", ".incoming");

    public string VttOf(Guid titleId, string language) => Path.Combine(FolderOf(titleId), language.ToLowerInvariant() + ".vtt");

    public async Task<IReadOnlyList<UploadedSubtitle>> ListAsync(Guid titleId, CancellationToken cancellationToken)
    {
        var folder = FolderOf(titleId);
        if (!Directory.Exists(folder))
        {
            return [];
        }

        var list = new List<UploadedSubtitle>();
        foreach (var file in Directory.EnumerateFiles(folder, "*.json").Order(StringComparer.Ordinal))
        {
            await using var stream = File.OpenRead(file);
            if (await JsonSerializer.DeserializeAsync<UploadedSubtitle>(stream, Json, cancellationToken) is { } s && File.Exists(VttOf(titleId, s.Language)))
            {
                list.Add(s);
            }
        }

        return list;
    }

    /// <summary>Keeps the converted file <paramref name="vttPath"/> (moved) as the title's track for its language, replacing any.</summary>
    public async Task SaveAsync(Guid titleId, UploadedSubtitle subtitle, string vttPath, CancellationToken cancellationToken)
    {
        var folder = FolderOf(titleId);
        Directory.CreateDirectory(folder);
        File.Move(vttPath, VttOf(titleId, subtitle.Language), overwrite: true);
        var json = Path.Combine(folder, subtitle.Language.ToLowerInvariant() + ".json");
        var temp = json + ".tmp";
        await File.WriteAllBytesAsync(temp, JsonSerializer.SerializeToUtf8Bytes(subtitle, Json), cancellationToken);
        File.Move(temp, json, overwrite: true);
    }

    public bool Delete(Guid titleId, string language)
    {
        var json = Path.Combine(FolderOf(titleId), language.ToLowerInvariant() + ".json");
        if (!File.Exists(json))
        {
            return false;
        }

        File.Delete(json);
        File.Delete(VttOf(titleId, language));
        return true;
    }
}

/// <summary>
/// A title's uploaded subtitles and its published package: on upload or deletion the newest published package of the title gets the
/// change at once (<see cref="SubtitlePackage.ApplyAsync"/>), and a package published later gets them when its <see cref="AssetReady"/>
/// event is handled.
/// </summary>
internal sealed class TitleSubtitles(SubtitleStore store, IMediaPackages packages, MediaStorage storage) : IDomainEventHandler<AssetReady>
{
    /// <summary>Makes the newest published package of the title list exactly its uploaded subtitles; false when it has none published.</summary>
    public async Task<bool> ApplyToPublishedAsync(Guid titleId, CancellationToken cancellationToken)
    {
        var package = await packages.FindPlayableAsync(titleId, cancellationToken);
        if (package is null)
        {
            return false;
        }

        await ApplyAsync(titleId, package.Root, cancellationToken);
        return true;
    }

    public async Task HandleAsync(AssetReady domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        var folder = Packager.PublishedFolder(storage.Published, domainEvent.AssetId);
        if (File.Exists(Path.Combine(folder, "master.m3u8")) && (await store.ListAsync(domainEvent.TitleId, cancellationToken)).Count > 0)
        {
            await ApplyAsync(domainEvent.TitleId, folder, cancellationToken);
        }
    }

    private async Task ApplyAsync(Guid titleId, string packageFolder, CancellationToken cancellationToken)
    {
        var uploads = (await store.ListAsync(titleId, cancellationToken)).Select(u => (u.Language, u.Label, store.VttOf(titleId, u.Language))).ToList();
        await SubtitlePackage.ApplyAsync(packageFolder, sources: null, uploads, cancellationToken);
    }
}

/// <summary><c>/api/media/titles/{titleId}/subtitles</c>: operators upload (.srt or .vtt, converted to WebVTT), list and delete a title's subtitles.</summary>
internal static class SubtitleEndpoints
{
    public static void MapSubtitles(this RouteGroupBuilder group)
    {
        var subtitles = group.MapGroup("/titles/{titleId:guid}/subtitles").RequireAuthorization(Policies.Console).WithTags("Media subtitles");

        subtitles.MapPost("", UploadAsync)
            .WithName("UploadSubtitles")
            .WithSummary("Uploads a title's subtitles for one language (multipart form: file (.srt or .vtt), language (BCP 47), label); replaces that language's.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

        subtitles.MapGet("", async (Guid titleId, SubtitleStore store, CancellationToken ct) => TypedResults.Ok(await store.ListAsync(titleId, ct)))
            .WithName("ListSubtitles")
            .WithSummary("The subtitles uploaded for a title.");

        subtitles.MapDelete("/{language}", DeleteAsync)
            .WithName("DeleteSubtitles")
            .WithSummary("Removes a title's uploaded subtitles for one language (from its published package too).")
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task<Results<Created<UploadedSubtitle>, ProblemHttpResult>> UploadAsync(
        Guid titleId, HttpContext http, ICatalog catalog, SubtitleStore store, TitleSubtitles titles, Transcoder transcoder,
        IOptions<MediaOptions> options, IAuditLog audit, TimeProvider clock, CancellationToken ct)
    {
        // A form post is a "simple" request a foreign page could send to an operator's loopback: only same-origin pages and non-browsers.
        if (http.Request.Headers["Sec-Fetch-Site"].ToString() is { Length: > 0 } site && site is not ("same-origin" or "none"))
        {
            return Problem(StatusCodes.Status403Forbidden, "Cross-site request refused", "Subtitles are uploaded from the console or a non-browser client.");
        }

        var limit = options.Value.MaxSubtitleBytes;
        if (http.Request.ContentLength > limit + 64 * 1024)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, "Subtitle file too large", $"At most {limit:N0} bytes.");
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = limit + 64 * 1024;
        }

        if (!http.Request.HasFormContentType)
        {
            return Problem(StatusCodes.Status415UnsupportedMediaType, "Multipart form expected", "Send multipart/form-data with the fields file, language and label.");
        }

        if (await catalog.FindAsync(titleId, ct) is null)
        {
            return Problem(StatusCodes.Status404NotFound, "No such title", $"There is no title {titleId}.");
        }

        IFormCollection form;
        try
        {
            form = await http.Request.ReadFormAsync(ct);
        }
        catch (Exception e) when (e is InvalidDataException or BadHttpRequestException or IOException)
        {
            return Problem(StatusCodes.Status400BadRequest, "Unreadable form", e.Message);
        }

        var file = form.Files.GetFile("file");
        var language = Renditions.NormalizeLanguage(form["language"].ToString().Trim());
        var label = form["label"].ToString().Trim();
        var errors = new List<string>();
        if (file is null)
        {
            errors.Add("The field 'file' (a .srt or .vtt file) is missing.");
        }
        else if (file.Length == 0)
        {
            errors.Add("The file is empty.");
        }
        else if (file.Length > limit)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, "Subtitle file too large", $"The file has {file.Length:N0} bytes; at most {limit:N0}.");
        }

        var format = Path.GetExtension(file?.FileName ?? "").ToLowerInvariant() switch
        {
            ".srt" => "srt",
            ".vtt" => "webvtt",
            _ => null,
        };
        if (file is { Length: > 0 } && format is null)
        {
            errors.Add("Only SubRip (.srt) and WebVTT (.vtt) files are accepted.");
        }

        if (language is null)
        {
            errors.Add("'language' must be a BCP 47 language tag such as en, fr or pt-BR.");
        }

        if (label.Length > 100 || label.Any(char.IsControl))
        {
            errors.Add("'label' has at most 100 characters and no control characters.");
        }

        if (errors.Count > 0)
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid subtitles", string.Join(" ", errors));
        }

        Directory.CreateDirectory(store.Incoming);
        var incoming = Path.Combine(store.Incoming, Guid.NewGuid().ToString("N"));
        var converted = incoming + ".converted.vtt";
        try
        {
            await using (var target = File.Create(incoming + (format == "srt" ? ".srt" : ".vtt")))
            {
                await file!.CopyToAsync(target, ct);
            }

            var refusal = await new SubtitleTool(transcoder.Options).ConvertAsync(incoming + (format == "srt" ? ".srt" : ".vtt"), format!, converted, ct);
            if (refusal is not null)
            {
                return Problem(StatusCodes.Status400BadRequest, "Invalid subtitles", refusal);
            }

            var subtitle = new UploadedSubtitle(language!, label.Length > 0 ? label : Renditions.DisplayName(null, language, language!),
                new FileInfo(converted).Length, clock.GetUtcNow());
            await store.SaveAsync(titleId, subtitle, converted, ct);
            var published = await titles.ApplyToPublishedAsync(titleId, ct);
            var actor = RequestActor.Of(http);
            await audit.RecordAsync(new AuditRecord(actor.Name, "media.subtitles-uploaded", $"title:{titleId}", actor.From,
                $"{subtitle.Language} \"{subtitle.Label}\", {subtitle.Bytes} bytes of WebVTT{(published ? ", added to the published package" : ", kept for publication")}"), ct);
            return TypedResults.Created($"/api/media/titles/{titleId}/subtitles/{subtitle.Language}", subtitle);
        }
        finally
        {
            foreach (var leftover in new[] { incoming + ".srt", incoming + ".vtt", converted })
            {
                File.Delete(leftover);
            }
        }
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        Guid titleId, string language, HttpContext http, SubtitleStore store, TitleSubtitles titles, IAuditLog audit, CancellationToken ct)
    {
        var tag = Renditions.NormalizeLanguage(language);
        if (tag is null || !store.Delete(titleId, tag))
        {
            return Problem(StatusCodes.Status404NotFound, "No such subtitles", $"Title {titleId} has no uploaded subtitles for '{language}'.");
        }

        await titles.ApplyToPublishedAsync(titleId, ct);
        var actor = RequestActor.Of(http);
        await audit.RecordAsync(new AuditRecord(actor.Name, "media.subtitles-deleted", $"title:{titleId}", actor.From, tag), ct);
        return TypedResults.NoContent();
    }

    private static ProblemHttpResult Problem(int status, string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: status);
}
