using System.Globalization;
using System.Security.Cryptography;
using Marquee.Catalog.Contracts;
using Marquee.Media.Contracts;
using Marquee.Media.Data;
using Marquee.Platform.Audit;
using Marquee.Platform.Events;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Media;

internal sealed record LibraryVersionView(
    int Number, string FileName, long SizeBytes, string Sha256, string? Container, long? DurationMs, string? VideoCodec, string? AudioCodec,
    int? Width, int? Height, string? Resolution, string Actor, DateTimeOffset CreatedAt, long? Bitrate = null)
{
    public static LibraryVersionView Of(LibraryVersion v) => new(v.Number, v.FileName, v.SizeBytes, v.Sha256, v.Container, v.DurationMs,
        v.VideoCodec, v.AudioCodec, v.Width, v.Height, AssetLibrary.Resolution(v), v.Actor, v.CreatedAt, BitrateOf(v));

    /// <summary>Bits per second: a rendition's average (recorded with it), else ffprobe's <c>format.bit_rate</c>; null when neither is known.</summary>
    private static long? BitrateOf(LibraryVersion v)
    {
        if (v.ProbeJson is not { Length: > 0 } json)
        {
            return null;
        }

        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != System.Text.Json.JsonValueKind.Object)
            {
                return null;
            }

            if (root.TryGetProperty("averageBitrate", out var average) && average.TryGetInt64(out var a))
            {
                return a;
            }

            return root.TryGetProperty("format", out var format) && format.ValueKind == System.Text.Json.JsonValueKind.Object
                && format.TryGetProperty("bit_rate", out var rate) && long.TryParse(rate.GetString(), CultureInfo.InvariantCulture, out var b) ? b : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}

internal sealed record LibraryItemView(
    Guid Id, Guid? TitleId, LibraryKind Kind, string Name, LibraryStatus Status, string? Note, IReadOnlyList<string> Tags,
    LibraryVersionView? Current, IReadOnlyList<LibraryVersionView>? Versions, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static LibraryItemView Of(LibraryItem i, bool withVersions) => new(i.Id, i.TitleId, i.Kind, i.Name, i.Status, FailureReason.ForPeople(i.Note),
        [.. i.Tags.Select(t => t.Tag).Order(StringComparer.Ordinal)],
        i.Versions.FirstOrDefault(v => v.Number == i.CurrentVersion) is { } c ? LibraryVersionView.Of(c) : null,
        withVersions ? [.. i.Versions.OrderByDescending(v => v.Number).Select(LibraryVersionView.Of)] : null,
        i.CreatedAt, i.UpdatedAt);
}

/// <summary>A facet value and how many assets have it (counted with every other filter applied, not this facet's own).</summary>
internal sealed record FacetCount(string Value, int Count);

/// <summary>The filters of a library search; null means any.</summary>
internal sealed record LibraryQuery(string? Q = null, LibraryKind? Kind = null, Guid? TitleId = null, string? Tag = null, string? Codec = null,
    string? Resolution = null, LibraryStatus? Status = null, int Take = 100);

internal sealed record LibrarySearchResult(int Total, IReadOnlyList<LibraryItemView> Items, IReadOnlyDictionary<string, IReadOnlyList<FacetCount>> Facets);

internal sealed record LibraryTags(List<string>? Tags);

internal sealed record LibraryStatusChange(LibraryStatus? Status);

internal abstract record LibraryOutcome
{
    public sealed record Done(LibraryItemView Item) : LibraryOutcome;

    public sealed record NotFound : LibraryOutcome;

    public sealed record Invalid(string Detail) : LibraryOutcome;
}

/// <summary>
/// The asset library (DAM): every file of a title (sources, renditions, artwork, subtitles, trailers, scripts) as an item with
/// versions. Each version keeps its file under <c>&lt;DataDir&gt;/media/library/&lt;item&gt;/v&lt;n&gt;.ext</c>, its SHA-256 and what ffprobe
/// reads of it (through <see cref="Probe.DescribeAsync"/>: confined like every tool run). Sources received by the pipeline enter it
/// by themselves (<see cref="LibrarySources"/>). Search filters and counts facets in memory: fine for tens of thousands of files.
/// </summary>
internal sealed class AssetLibrary(MediaDb db, MediaStorage storage, Probe probe, TimeProvider clock) : IAssetLibrary
{
    public const int MaxTags = 30;

    public string Folder => Path.Combine(storage.Root, "library");

    public static string? Resolution(LibraryVersion v) => v.Height switch
    {
        >= 2160 => "2160p",
        >= 1080 => "1080p",
        >= 720 => "720p",
        >= 480 => "480p",
        > 0 => "SD",
        _ => v.AudioCodec is not null ? "audio" : null,
    };

    /// <summary>Stores an uploaded file as a new item (version 1).</summary>
    public async Task<LibraryOutcome> AddAsync(Stream content, string fileName, LibraryKind kind, Guid? titleId, string? name, IEnumerable<string> tags,
        RequestActor actor, CancellationToken cancellationToken)
    {
        if (Tags(tags) is not { } clean)
        {
            return new LibraryOutcome.Invalid($"At most {MaxTags} tags of 1 to 100 characters.");
        }

        var now = clock.GetUtcNow();
        var item = new LibraryItem
        {
            Id = Guid.CreateVersion7(now),
            TitleId = titleId,
            Kind = kind,
            Name = string.IsNullOrWhiteSpace(name) ? Path.GetFileName(fileName) : name.Trim(),
            Status = LibraryStatus.Active,
            CreatedAt = now,
            UpdatedAt = now,
            Tags = [.. clean.Select(t => new LibraryTag { Tag = t })],
        };
        var folder = Path.Combine(Folder, item.Id.ToString("N"));
        try
        {
            var version = await StoreAsync(item, 1, content, fileName, actor, cancellationToken);
            item.Versions.Add(version);
            item.CurrentVersion = 1;
            db.LibraryItems.Add(item);
            db.Publish(new AuditRequested(new AuditRecord(actor.Name, "media.library-added", $"library:{item.Id}", actor.From,
                $"{kind} '{item.Name}' v1 sha256 {version.Sha256}"), now));
            await db.SaveChangesAsync(cancellationToken);
        }
        catch
        {
            Packager.DeleteQuietly(folder); // nothing half-written: no row, no file
            throw;
        }

        return new LibraryOutcome.Done(LibraryItemView.Of(item, withVersions: true));
    }

    /// <summary>Stores an uploaded file as the item's next version, which becomes current; earlier versions stay.</summary>
    public async Task<LibraryOutcome> AddVersionAsync(Guid id, Stream content, string fileName, RequestActor actor, CancellationToken cancellationToken)
    {
        if (await db.LibraryItems.Include(i => i.Versions).Include(i => i.Tags).FirstOrDefaultAsync(i => i.Id == id, cancellationToken) is not { } item)
        {
            return new LibraryOutcome.NotFound();
        }

        if (item.PipelineAssetId is not null || (item.Kind == LibraryKind.Rendition && item.Versions.Any(v => v.Path.StartsWith("published", StringComparison.Ordinal))))
        {
            return new LibraryOutcome.Invalid("A source received by the pipeline is replaced by uploading a new source for its title, not by a new version here.");
        }

        var number = item.CurrentVersion + 1;
        var version = await StoreAsync(item, number, content, fileName, actor, cancellationToken);
        try
        {
            item.Versions.Add(version);
            item.CurrentVersion = number;
            item.UpdatedAt = clock.GetUtcNow();
            db.Publish(new AuditRequested(new AuditRecord(actor.Name, "media.library-version-added", $"library:{item.Id}", actor.From,
                $"v{number} sha256 {version.Sha256}"), item.UpdatedAt));
            await db.SaveChangesAsync(cancellationToken); // a concurrent version takes the same key: one of the two fails
        }
        catch
        {
            File.Delete(Path.Combine(storage.Root, version.Path));
            throw;
        }

        return new LibraryOutcome.Done(LibraryItemView.Of(item, withVersions: true));
    }

    public async Task<LibraryOutcome> SetTagsAsync(Guid id, IEnumerable<string> tags, RequestActor actor, CancellationToken cancellationToken)
    {
        if (Tags(tags) is not { } clean)
        {
            return new LibraryOutcome.Invalid($"At most {MaxTags} tags of 1 to 100 characters.");
        }

        if (await db.LibraryItems.Include(i => i.Versions).Include(i => i.Tags).FirstOrDefaultAsync(i => i.Id == id, cancellationToken) is not { } item)
        {
            return new LibraryOutcome.NotFound();
        }

        db.LibraryTags.RemoveRange(item.Tags.Where(t => !clean.Contains(t.Tag)));
        foreach (var tag in clean.Where(t => item.Tags.All(x => x.Tag != t)))
        {
            item.Tags.Add(new LibraryTag { ItemId = item.Id, Tag = tag });
        }

        item.UpdatedAt = clock.GetUtcNow();
        db.Publish(new AuditRequested(new AuditRecord(actor.Name, "media.library-tagged", $"library:{item.Id}", actor.From, string.Join(", ", clean)), item.UpdatedAt));
        await db.SaveChangesAsync(cancellationToken);
        item.Tags.RemoveAll(t => !clean.Contains(t.Tag));
        return new LibraryOutcome.Done(LibraryItemView.Of(item, withVersions: true));
    }

    /// <summary>An operator archives a file or brings it back; the pipeline's Ready and Rejected are its own.</summary>
    public async Task<LibraryOutcome> SetStatusAsync(Guid id, LibraryStatus status, RequestActor actor, CancellationToken cancellationToken)
    {
        if (status is not (LibraryStatus.Active or LibraryStatus.Archived))
        {
            return new LibraryOutcome.Invalid("An operator sets Active or Archived; Ready and Rejected come from the pipeline.");
        }

        if (await db.LibraryItems.Include(i => i.Versions).Include(i => i.Tags).FirstOrDefaultAsync(i => i.Id == id, cancellationToken) is not { } item)
        {
            return new LibraryOutcome.NotFound();
        }

        item.Status = status;
        item.UpdatedAt = clock.GetUtcNow();
        db.Publish(new AuditRequested(new AuditRecord(actor.Name, "media.library-status", $"library:{item.Id}", actor.From, status.ToString()), item.UpdatedAt));
        await db.SaveChangesAsync(cancellationToken);
        return new LibraryOutcome.Done(LibraryItemView.Of(item, withVersions: true));
    }

    public async Task<LibraryItemView?> FindAsync(Guid id, CancellationToken cancellationToken) =>
        await db.LibraryItems.AsNoTracking().AsSplitQuery().Include(i => i.Versions).Include(i => i.Tags).FirstOrDefaultAsync(i => i.Id == id, cancellationToken) is { } item
            ? LibraryItemView.Of(item, withVersions: true)
            : null;

    /// <summary>Items matching every filter, newest first, with facet counts for kind, title, tag, codec, resolution and status.</summary>
    public async Task<LibrarySearchResult> SearchAsync(LibraryQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var items = await db.LibraryItems.AsNoTracking().AsSplitQuery().Include(i => i.Versions).Include(i => i.Tags).ToListAsync(cancellationToken);
        var rows = items.Select(i => (Item: i, Current: i.Versions.FirstOrDefault(v => v.Number == i.CurrentVersion))).ToList();

        bool Matches((LibraryItem Item, LibraryVersion? Current) r, string? except)
        {
            var (i, v) = r;
            return (query.Q is not { Length: > 0 } q || i.Name.Contains(q, StringComparison.OrdinalIgnoreCase) || (v?.FileName.Contains(q, StringComparison.OrdinalIgnoreCase) ?? false)
                    || (v?.Sha256.StartsWith(q, StringComparison.OrdinalIgnoreCase) ?? false))
                && (except == "kind" || query.Kind is null || i.Kind == query.Kind)
                && (except == "title" || query.TitleId is null || i.TitleId == query.TitleId)
                && (except == "tag" || query.Tag is not { Length: > 0 } tag || i.Tags.Any(t => string.Equals(t.Tag, tag, StringComparison.OrdinalIgnoreCase)))
                && (except == "codec" || query.Codec is not { Length: > 0 } codec || string.Equals(v?.VideoCodec, codec, StringComparison.OrdinalIgnoreCase)
                    || string.Equals(v?.AudioCodec, codec, StringComparison.OrdinalIgnoreCase))
                && (except == "resolution" || query.Resolution is not { Length: > 0 } res || (v is not null && string.Equals(Resolution(v), res, StringComparison.OrdinalIgnoreCase)))
                && (except == "status" || query.Status is null || i.Status == query.Status);
        }

        IReadOnlyList<FacetCount> Facet(string name, Func<(LibraryItem Item, LibraryVersion? Current), IEnumerable<string?>> values) =>
            [.. rows.Where(r => Matches(r, name)).SelectMany(r => values(r).Where(x => x is not null).Distinct()).GroupBy(x => x!)
                .Select(g => new FacetCount(g.Key, g.Count())).OrderByDescending(f => f.Count).ThenBy(f => f.Value, StringComparer.Ordinal)];

        var facets = new Dictionary<string, IReadOnlyList<FacetCount>>
        {
            ["kind"] = Facet("kind", r => [r.Item.Kind.ToString()]),
            ["title"] = Facet("title", r => [r.Item.TitleId?.ToString()]),
            ["tag"] = Facet("tag", r => r.Item.Tags.Select(t => t.Tag)),
            ["codec"] = Facet("codec", r => [r.Current?.VideoCodec, r.Current?.AudioCodec]),
            ["resolution"] = Facet("resolution", r => [r.Current is { } c ? Resolution(c) : null]),
            ["status"] = Facet("status", r => [r.Item.Status.ToString()]),
        };
        var matching = rows.Where(r => Matches(r, null)).OrderByDescending(r => r.Item.CreatedAt).ThenByDescending(r => r.Item.Id).ToList();
        return new LibrarySearchResult(matching.Count, [.. matching.Take(Math.Clamp(query.Take, 1, 1000)).Select(r => LibraryItemView.Of(r.Item, withVersions: false))], facets);
    }

    public async Task<IReadOnlyList<TitleDelivery>> DeliveriesAsync(IReadOnlyCollection<Guid> titleIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(titleIds);
        var ids = titleIds.Distinct().ToList();
        var sources = await db.LibraryItems.AsNoTracking()
            .Where(i => i.TitleId != null && ids.Contains(i.TitleId.Value) && i.Kind == LibraryKind.Source)
            .Select(i => new { TitleId = i.TitleId!.Value, i.Status, i.CreatedAt }).ToListAsync(cancellationToken);
        return [.. ids.Select(id =>
        {
            var mine = sources.Where(s => s.TitleId == id).ToList();
            var accepted = mine.Where(s => s.Status != LibraryStatus.Rejected).ToList();
            return new TitleDelivery(id, accepted.Count == 0 ? null : accepted.Min(s => s.CreatedAt), accepted.Count, mine.Count - accepted.Count);
        })];
    }

    /// <summary>Records a pipeline source in the library (once per pipeline asset), or updates its status when it is there already.</summary>
    public async Task RecordSourceAsync(Guid assetId, CancellationToken cancellationToken)
    {
        if (await db.Assets.AsNoTracking().FirstOrDefaultAsync(a => a.Id == assetId, cancellationToken) is not { } asset)
        {
            return;
        }

        var status = asset.State switch
        {
            AssetState.Ready => LibraryStatus.Ready,
            AssetState.Rejected => LibraryStatus.Rejected,
            _ => LibraryStatus.Active,
        };
        var now = clock.GetUtcNow();
        if (await db.LibraryItems.FirstOrDefaultAsync(i => i.PipelineAssetId == assetId && i.Kind == LibraryKind.Source, cancellationToken) is { } existing)
        {
            existing.Status = status;
            existing.Note = asset.Reason;
            existing.UpdatedAt = now;
            return;
        }

        var path = Path.Combine(storage.Sources, asset.SourcePath);
        var info = asset.ProbeJson is { } json ? TryParse(json, File.Exists(path) ? new FileInfo(path).Length : 0) : null;
        string sha;
        long size;
        if (File.Exists(path))
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
            size = file.Length;
        }
        else
        {
            sha = "";
            size = 0;
        }

        var item = new LibraryItem
        {
            Id = Guid.CreateVersion7(asset.CreatedAt),
            TitleId = asset.TitleId,
            Kind = LibraryKind.Source,
            Name = Path.GetFileName(asset.SourcePath),
            Status = status,
            Note = asset.Reason,
            PipelineAssetId = asset.Id,
            CurrentVersion = 1,
            CreatedAt = asset.CreatedAt, // delivered when received, not when the pipeline finished
            UpdatedAt = now,
        };
        item.Versions.Add(Version(item.Id, 1, Path.GetRelativePath(storage.Root, path), Path.GetFileName(asset.SourcePath), size, sha, info, asset.ProbeJson, "pipeline", asset.CreatedAt));
        db.LibraryItems.Add(item);
    }

    /// <summary>
    /// Records the renditions of an asset's published package in the library (once each; call SaveChanges after): one item
    /// per video variant and per audio group of its master playlist, kind Rendition, status Ready, tied to the pipeline
    /// asset. Technical metadata from the master playlist (codecs, resolution, declared bandwidth) and the folder (average
    /// bitrate from its size over the duration); the checksum is the SHA-256 of the rendition's media playlist followed
    /// by its init segment, which name and fix every segment's place (hashing every segment would read the whole package
    /// again). Keys are not files of the package (its playlists name placeholder URIs), and nothing named *.key is counted.
    /// The number of items added.
    /// </summary>
    public async Task<int> RecordRenditionsAsync(Guid assetId, CancellationToken cancellationToken)
    {
        if (await db.Assets.AsNoTracking().FirstOrDefaultAsync(a => a.Id == assetId && a.State == AssetState.Ready, cancellationToken) is not { } asset)
        {
            return 0;
        }

        var root = Packager.PublishedFolder(storage.Published, asset.Id);
        var master = Path.Combine(root, "master.m3u8");
        if (!File.Exists(master))
        {
            return 0;
        }

        // A rendition is known by its media playlist's path (published/<asset>/<rendition>/index.m3u8): the items'
        // PipelineAssetId is unique to the asset's source entry, so renditions leave it empty.
        var prefix = Path.GetRelativePath(storage.Root, root) + Path.DirectorySeparatorChar;
        var known = await db.LibraryVersions.AsNoTracking().Where(v => v.Path.StartsWith(prefix)).Select(v => v.Path).ToListAsync(cancellationToken);
        var added = 0;
        foreach (var r in HlsRendition.Parse(await File.ReadAllTextAsync(master, cancellationToken)))
        {
            var name = $"{r.Folder} rendition";
            var playlist = Path.Combine(root, r.Playlist);
            var folder = Path.GetDirectoryName(playlist)!;
            if (known.Contains(Path.GetRelativePath(storage.Root, playlist)) || !File.Exists(playlist) || !Path.GetFullPath(folder).StartsWith(Path.GetFullPath(root), StringComparison.Ordinal))
            {
                continue;
            }

            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(await File.ReadAllBytesAsync(playlist, cancellationToken));
            var init = Path.Combine(folder, "init.mp4");
            if (File.Exists(init))
            {
                hash.AppendData(await File.ReadAllBytesAsync(init, cancellationToken));
            }

            var files = Directory.GetFiles(folder).Where(f => !f.EndsWith(".key", StringComparison.OrdinalIgnoreCase)).ToList();
            var size = files.Sum(f => new FileInfo(f).Length);
            var seconds = (asset.DurationMs ?? 0) / 1000.0;
            var averageBitrate = seconds > 0 ? (long)(size * 8 / seconds) : (long?)null;
            var details = System.Text.Json.JsonSerializer.Serialize(new
            {
                rendition = r.Folder, playlist = r.Playlist, bandwidth = r.Bandwidth, averageBitrate, codecs = r.Codecs, resolution = r.Resolution,
                segments = files.Count(f => f.EndsWith(".m4s", StringComparison.Ordinal) || f.EndsWith(".ts", StringComparison.Ordinal)),
                checksumOf = "sha256(media playlist + init segment)",
            });
            var item = new LibraryItem
            {
                Id = Guid.CreateVersion7(clock.GetUtcNow()),
                TitleId = asset.TitleId,
                Kind = LibraryKind.Rendition,
                Name = name,
                Status = LibraryStatus.Ready,
                CurrentVersion = 1,
                CreatedAt = asset.UpdatedAt,
                UpdatedAt = clock.GetUtcNow(),
                Tags = [new LibraryTag { Tag = "hls" }, new LibraryTag { Tag = r.Audio ? "audio" : "video" }],
            };
            item.Versions.Add(new LibraryVersion
            {
                ItemId = item.Id,
                Number = 1,
                Path = Path.GetRelativePath(storage.Root, playlist),
                FileName = Path.GetFileName(r.Playlist),
                SizeBytes = size,
                Sha256 = Convert.ToHexStringLower(hash.GetHashAndReset()),
                Container = "hls-fmp4",
                DurationMs = asset.DurationMs,
                VideoCodec = r.VideoCodec,
                AudioCodec = r.AudioCodec,
                Width = r.Width,
                Height = r.Height,
                ProbeJson = details,
                Actor = "pipeline",
                CreatedAt = asset.UpdatedAt,
            });
            db.LibraryItems.Add(item);
            added++;
        }

        return added;
    }

    /// <summary>Ready assets whose published renditions are not in the library yet (packages published before it recorded them).</summary>
    public async Task<int> BackfillRenditionsAsync(CancellationToken cancellationToken)
    {
        var ready = await db.Assets.AsNoTracking().Where(a => a.State == AssetState.Ready).Select(a => a.Id).ToListAsync(cancellationToken);
        var paths = await db.LibraryItems.AsNoTracking().Where(i => i.Kind == LibraryKind.Rendition)
            .SelectMany(i => i.Versions.Select(v => v.Path)).ToListAsync(cancellationToken);
        var done = paths.Select(p => p.Split('/', '\\')).Where(p => p.Length > 2 && p[0] == "published")
            .Select(p => Guid.TryParseExact(p[1], "N", out var id) ? id : Guid.Empty).ToHashSet();
        var added = 0;
        foreach (var id in ready.Except(done))
        {
            var recorded = await RecordRenditionsAsync(id, cancellationToken);
            try
            {
                await db.SaveChangesAsync(cancellationToken); // one package at a time: a restart goes on from where this stopped
                added += recorded;
            }
            catch (DbUpdateException)
            {
                // Another worker (the AssetReady handler) recorded this package meanwhile: the unique path index kept
                // one copy, and it is theirs.
                db.ChangeTracker.Clear();
            }
        }

        return added;
    }

    private async Task<LibraryVersion> StoreAsync(LibraryItem item, int number, Stream content, string fileName, RequestActor actor, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Folder, item.Id.ToString("N"));
        Directory.CreateDirectory(folder);
        var extension = Path.GetExtension(fileName).ToLowerInvariant();
        if (extension.Length > 10 || !extension.Skip(1).All(char.IsAsciiLetterOrDigit))
        {
            extension = "";
        }

        var stored = $"v{number.ToString(CultureInfo.InvariantCulture)}{extension}";
        var temporary = Path.Combine(folder, stored + ".part");
        string sha;
        long size;
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }

                await file.FlushAsync(cancellationToken);
                sha = Convert.ToHexStringLower(hash.GetHashAndReset());
                size = file.Length;
            }

            File.Move(temporary, Path.Combine(folder, stored));
        }
        finally
        {
            File.Delete(temporary);
        }

        MediaInfo? info = null;
        string? json = null;
        if (item.Kind is not (LibraryKind.Script or LibraryKind.Other))
        {
            (info, json, _) = await probe.DescribeAsync(folder, stored, cancellationToken); // not media (an image, a text) leaves the metadata empty
        }

        return Version(item.Id, number, Path.GetRelativePath(storage.Root, Path.Combine(folder, stored)), Path.GetFileName(fileName), size, sha, info, json, actor.Name, clock.GetUtcNow());
    }

    private static LibraryVersion Version(Guid itemId, int number, string path, string fileName, long size, string sha, MediaInfo? info, string? json, string actor, DateTimeOffset at) => new()
    {
        ItemId = itemId,
        Number = number,
        Path = path,
        FileName = fileName.Length > 300 ? fileName[..300] : fileName,
        SizeBytes = size,
        Sha256 = sha,
        Container = info?.Container,
        DurationMs = info is { Duration.Ticks: > 0 } ? (long)info.Duration.TotalMilliseconds : null,
        VideoCodec = info?.Video?.Codec,
        AudioCodec = info?.Audio?.Codec,
        Width = info?.Video?.DisplayWidth,
        Height = info?.Video?.Height,
        ProbeJson = json,
        Actor = actor,
        CreatedAt = at,
    };

    private static MediaInfo? TryParse(string json, long size)
    {
        try
        {
            return Probe.Parse(json, size);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static List<string>? Tags(IEnumerable<string> tags)
    {
        var clean = tags.Select(t => t.Trim().ToLowerInvariant()).Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        return clean.Count > MaxTags || clean.Any(t => t.Length > 100) ? null : clean;
    }
}

/// <summary>Sources the pipeline accepted or rejected enter the asset library (status Ready or Rejected, checksum, ffprobe's metadata).</summary>
internal sealed class LibrarySources(MediaDb db, AssetLibrary library) : IDomainEventHandler<AssetReady>, IDomainEventHandler<AssetRejected>
{
    public Task HandleAsync(AssetReady domainEvent, EventContext context, CancellationToken cancellationToken) =>
        RecordAsync(domainEvent?.AssetId ?? throw new ArgumentNullException(nameof(domainEvent)), context, cancellationToken);

    public Task HandleAsync(AssetRejected domainEvent, EventContext context, CancellationToken cancellationToken) =>
        RecordAsync(domainEvent?.AssetId ?? throw new ArgumentNullException(nameof(domainEvent)), context, cancellationToken);

    private async Task RecordAsync(Guid assetId, EventContext context, CancellationToken cancellationToken)
    {
        if (await db.AlreadyHandledAsync(context, nameof(LibrarySources), cancellationToken))
        {
            return;
        }

        await library.RecordSourceAsync(assetId, cancellationToken);
        await library.RecordRenditionsAsync(assetId, cancellationToken); // a ready asset's package is published: its renditions too
        await db.SaveChangesAsync(cancellationToken);
    }
}

/// <summary>At start (worker role), records the renditions of packages published before the library recorded them; tries again until done.</summary>
internal sealed class LibraryRenditionsBackfill(IServiceScopeFactory scopes, TimeProvider time, ILogger<LibraryRenditionsBackfill> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var added = await scope.ServiceProvider.GetRequiredService<AssetLibrary>().BackfillRenditionsAsync(stoppingToken);
                if (added > 0)
                {
                    logger.LogInformation("Recorded {Count} renditions of earlier packages in the asset library.", added);
                }

                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Recording earlier packages' renditions in the asset library failed; trying again in a minute.");
            }

            try
            {
                await Task.Delay(TimeSpan.FromMinutes(1), time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

/// <summary>A rendition listed by a master playlist: a video variant (EXT-X-STREAM-INF) or an audio group's playlist (EXT-X-MEDIA).</summary>
internal sealed record HlsRendition(string Playlist, bool Audio, long? Bandwidth, string? Codecs, string? Resolution, string? VideoCodec, string? AudioCodec, int? Width, int? Height)
{
    public string Folder => Path.GetDirectoryName(Playlist) is { Length: > 0 } d ? d.Replace('\\', '/') : Path.GetFileNameWithoutExtension(Playlist);

    public static IReadOnlyList<HlsRendition> Parse(string master)
    {
        var lines = master.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').Select(l => l.Trim()).ToArray();
        var list = new List<HlsRendition>();
        string? audioCodec = null;
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("#EXT-X-STREAM-INF:", StringComparison.Ordinal) && i + 1 < lines.Length && lines[i + 1] is { Length: > 0 } uri && !uri.StartsWith('#'))
            {
                var a = Attributes(lines[i]);
                var codecs = a.GetValueOrDefault("CODECS");
                var parts = (codecs ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var video = parts.Select(Codec).FirstOrDefault(c => c is "h264" or "hevc" or "av1" or "vp9");
                var audio = parts.Select(Codec).FirstOrDefault(c => c is "aac" or "opus" or "ac3" or "eac3" or "mp3" or "flac");
                audioCodec ??= audio;
                var size = a.GetValueOrDefault("RESOLUTION")?.Split('x');
                list.Add(new HlsRendition(uri, video is null, long.TryParse(a.GetValueOrDefault("BANDWIDTH"), CultureInfo.InvariantCulture, out var bw) ? bw : null, codecs,
                    a.GetValueOrDefault("RESOLUTION"), video, audio,
                    size is [var w, var h] && int.TryParse(w, CultureInfo.InvariantCulture, out var width) ? width : null,
                    size is [_, var h2] && int.TryParse(h2, CultureInfo.InvariantCulture, out var height) ? height : null));
                i++;
            }
        }

        foreach (var line in lines.Where(l => l.StartsWith("#EXT-X-MEDIA:", StringComparison.Ordinal)))
        {
            var a = Attributes(line);
            if (a.GetValueOrDefault("TYPE") == "AUDIO" && a.GetValueOrDefault("URI") is { Length: > 0 } uri && list.All(r => r.Playlist != uri))
            {
                list.Add(new HlsRendition(uri, true, null, audioCodec, null, null, audioCodec, null, null));
            }
        }

        return list;
    }

    /// <summary>An RFC 6381 codec string as ffprobe names the codec (avc1.64001f: h264).</summary>
    private static string Codec(string rfc6381) => rfc6381.Split('.')[0] switch
    {
        "avc1" or "avc3" => "h264",
        "hvc1" or "hev1" => "hevc",
        "av01" => "av1",
        "vp09" => "vp9",
        "mp4a" => "aac",
        "Opus" or "opus" => "opus",
        "ac-3" => "ac3",
        "ec-3" => "eac3",
        "fLaC" => "flac",
        var other => other,
    };

    private static Dictionary<string, string> Attributes(string line)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..], "([A-Z0-9-]+)=(\"[^\"]*\"|[^,]*)"))
        {
            result[m.Groups[1].Value] = m.Groups[2].Value.Trim('"');
        }

        return result;
    }
}

/// <summary><c>/api/media/library</c>: the asset library's API (operators).</summary>
internal static class LibraryEndpoints
{
    public static void MapLibrary(this RouteGroupBuilder group)
    {
        var library = group.MapGroup("/library").RequireAuthorization(Policies.ConsoleContent).WithTags("Media library");

        library.MapGet("", async (AssetLibrary lib, string? q, LibraryKind? kind, Guid? titleId, string? tag, string? codec, string? resolution, LibraryStatus? status, int? take, CancellationToken ct) =>
                TypedResults.Ok(await lib.SearchAsync(new LibraryQuery(q, kind, titleId, tag, codec, resolution, status, take ?? 100), ct)))
            .WithName("SearchMediaLibrary")
            .WithSummary("Faceted search of the asset library: filters q (name, file name, checksum prefix), kind, titleId, tag, codec, resolution (2160p, 1080p, 720p, 480p, SD, audio), status; facet counts for each.");

        library.MapGet("/{id:guid}", async Task<Results<Ok<LibraryItemView>, ProblemHttpResult>> (Guid id, AssetLibrary lib, CancellationToken ct) =>
                await lib.FindAsync(id, ct) is { } item ? TypedResults.Ok(item) : NotFound(id))
            .WithName("GetMediaLibraryItem")
            .WithSummary("One library item with every version (checksum, technical metadata).")
            .ProducesProblem(StatusCodes.Status404NotFound);

        library.MapPost("", UploadAsync)
            .WithName("AddMediaLibraryItem")
            .WithSummary("Adds a file to the library (multipart form: file, kind (Source, Rendition, Artwork, Subtitle, Trailer, Script, Other), titleId, name, tags comma-separated): version 1 with its SHA-256 and ffprobe's metadata.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

        library.MapPost("/{id:guid}/versions", UploadVersionAsync)
            .WithName("AddMediaLibraryVersion")
            .WithSummary("Uploads a new version of a library item (multipart form: file); it becomes current, earlier versions stay.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);

        library.MapPut("/{id:guid}/tags", async (Guid id, LibraryTags input, AssetLibrary lib, HttpContext http, CancellationToken ct) =>
                Answer(id, await lib.SetTagsAsync(id, input.Tags ?? [], RequestActor.Of(http), ct)))
            .WithName("SetMediaLibraryTags")
            .WithSummary("Replaces a library item's tags (lower-cased, at most 30).")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);

        library.MapPut("/{id:guid}/status", async (Guid id, LibraryStatusChange input, AssetLibrary lib, HttpContext http, CancellationToken ct) =>
                input.Status is { } s ? Answer(id, await lib.SetStatusAsync(id, s, RequestActor.Of(http), ct))
                    : Answer(id, new LibraryOutcome.Invalid("Give status: Active or Archived.")))
            .WithName("SetMediaLibraryStatus")
            .WithSummary("Archives a library item or makes it active again.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task<IResult> UploadAsync(HttpContext http, AssetLibrary lib, ICatalog catalog, IOptions<MediaOptions> options, CancellationToken ct)
    {
        if (await ReadAsync(http, options.Value) is not { } form)
        {
            return Problem(StatusCodes.Status415UnsupportedMediaType, "Multipart form expected", "Send multipart/form-data with the fields file, kind, titleId, name and tags.");
        }

        if (form.Problem is { } problem)
        {
            return problem;
        }

        var errors = new List<string>();
        if (!Enum.TryParse<LibraryKind>(form.Fields["kind"].ToString(), ignoreCase: true, out var kind) || !Enum.IsDefined(kind))
        {
            errors.Add("kind is one of Source, Rendition, Artwork, Subtitle, Trailer, Script, Other.");
        }

        Guid? titleId = null;
        if (form.Fields["titleId"].ToString() is { Length: > 0 } text)
        {
            if (!Guid.TryParse(text, out var parsed))
            {
                errors.Add("titleId is not an id.");
            }
            else if (await catalog.FindAsync(parsed, ct) is null)
            {
                return Problem(StatusCodes.Status404NotFound, "No such title", $"There is no title {parsed}.");
            }
            else
            {
                titleId = parsed;
            }
        }

        var name = form.Fields["name"].ToString();
        if (name.Length > 300)
        {
            errors.Add("name is at most 300 characters.");
        }

        if (errors.Count > 0)
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid library item", string.Join(" ", errors));
        }

        var tags = form.Fields["tags"].ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        await using var stream = form.File!.OpenReadStream();
        return await lib.AddAsync(stream, form.File.FileName, kind, titleId, name, tags, RequestActor.Of(http), ct) switch
        {
            LibraryOutcome.Done d => TypedResults.Created($"/api/media/library/{d.Item.Id}", d.Item),
            var other => Answer(Guid.Empty, other),
        };
    }

    private static async Task<IResult> UploadVersionAsync(Guid id, HttpContext http, AssetLibrary lib, IOptions<MediaOptions> options, CancellationToken ct)
    {
        if (await ReadAsync(http, options.Value) is not { } form)
        {
            return Problem(StatusCodes.Status415UnsupportedMediaType, "Multipart form expected", "Send multipart/form-data with the field file.");
        }

        if (form.Problem is { } problem)
        {
            return problem;
        }

        await using var stream = form.File!.OpenReadStream();
        return Answer(id, await lib.AddVersionAsync(id, stream, form.File.FileName, RequestActor.Of(http), ct));
    }

    private sealed record Form(IFormCollection Fields, IFormFile? File, IResult? Problem);

    /// <summary>The form with its file, or a problem (cross-site, too large, no file, empty); null when it is not a form.</summary>
    private static async Task<Form?> ReadAsync(HttpContext http, MediaOptions options)
    {
        // A form post is a "simple" request a foreign page could send to an operator's loopback: only same-origin pages and non-browsers.
        if (http.Request.Headers["Sec-Fetch-Site"].ToString() is { Length: > 0 } site && site is not ("same-origin" or "none"))
        {
            return new Form(FormCollection.Empty, null, Problem(StatusCodes.Status403Forbidden, "Cross-site request refused", "Library files are uploaded from the console or a non-browser client."));
        }

        var limit = options.MaxLibraryFileBytes;
        if (http.Request.ContentLength > limit + 64 * 1024)
        {
            return new Form(FormCollection.Empty, null, TooLarge(limit));
        }

        if (!http.Request.HasFormContentType)
        {
            return null;
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = limit + 64 * 1024;
        }

        IFormCollection fields;
        try
        {
            http.Features.Set<IFormFeature>(new FormFeature(http.Request, new Microsoft.AspNetCore.Http.Features.FormOptions { MultipartBodyLengthLimit = limit + 64 * 1024 }));
            fields = await http.Request.ReadFormAsync(http.RequestAborted);
        }
        catch (Exception e) when (e is InvalidDataException or BadHttpRequestException or IOException)
        {
            return new Form(FormCollection.Empty, null, e is BadHttpRequestException { StatusCode: 413 } ? TooLarge(limit) : Problem(StatusCodes.Status400BadRequest, "Unreadable form", e.Message));
        }

        var file = fields.Files.GetFile("file");
        return file switch
        {
            null => new Form(fields, null, Problem(StatusCodes.Status400BadRequest, "Invalid library item", "The field 'file' is missing.")),
            { Length: 0 } => new Form(fields, null, Problem(StatusCodes.Status400BadRequest, "Invalid library item", "The file is empty.")),
            { Length: var l } when l > limit => new Form(fields, null, TooLarge(limit)),
            _ => new Form(fields, file, null),
        };
    }

    private static ProblemHttpResult TooLarge(long limit) =>
        Problem(StatusCodes.Status413PayloadTooLarge, "File too large", $"At most {limit:N0} bytes (Marquee:Media:MaxLibraryFileBytes); large sources go through the resumable upload.");

    private static IResult Answer(Guid id, LibraryOutcome outcome) => outcome switch
    {
        LibraryOutcome.Done d => TypedResults.Ok(d.Item),
        LibraryOutcome.Invalid i => Problem(StatusCodes.Status400BadRequest, "Invalid library item", i.Detail),
        _ => NotFound(id),
    };

    private static ProblemHttpResult NotFound(Guid id) => Problem(StatusCodes.Status404NotFound, "No such library item", $"There is no library item {id}.");

    private static ProblemHttpResult Problem(int status, string title, string detail) => TypedResults.Problem(title: title, detail: detail, statusCode: status);
}
