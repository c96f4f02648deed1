using System.Collections.Concurrent;
using System.Text.Json;

namespace Marquee.Media.Uploads;

/// <summary>What the server knows of one resumable upload; kept as JSON beside its data file.</summary>
internal sealed record UploadInfo(
    Guid Id,
    long Length,
    IReadOnlyDictionary<string, string> Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    string CreatedBy,
    bool Completed = false,
    Guid? TitleId = null,
    bool Received = false);

/// <summary>
/// Resumable uploads on local disk: <c>&lt;DataDir&gt;/uploads/&lt;id&gt;.bin</c> (the bytes received so far, whose
/// length is the offset: nothing else to keep in step) and <c>&lt;id&gt;.json</c> (length, metadata), written
/// atomically. A chunk whose checksum does not match is cut off again, so the offset only ever covers verified bytes.
/// </summary>
internal sealed class UploadStore(string folder)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> locks = new();

    public string Folder { get; } = folder;

    public string DataPath(Guid id) => Path.Combine(Folder, $"{id:N}.bin");

    private string InfoPath(Guid id) => Path.Combine(Folder, $"{id:N}.json");

    public async Task<UploadInfo> CreateAsync(UploadInfo info, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Folder);
        await using (File.Create(DataPath(info.Id)))
        {
        }

        await WriteInfoAsync(info, cancellationToken);
        return info;
    }

    public async Task<UploadInfo?> FindAsync(Guid id, CancellationToken cancellationToken)
    {
        var path = InfoPath(id);
        if (!File.Exists(path))
        {
            return null;
        }

        await using var stream = File.OpenRead(path);
        return await JsonSerializer.DeserializeAsync<UploadInfo>(stream, Json, cancellationToken);
    }

    /// <summary>
    /// The bytes received. An upload that has all of them (<see cref="UploadInfo.Received"/>: its file may have moved on
    /// to the sources already) or is completed (handed on to the pipeline) has its whole length.
    /// </summary>
    public long OffsetOf(UploadInfo info) => info.Completed || info.Received ? info.Length : OffsetOf(info.Id);

    public long OffsetOf(Guid id)
    {
        var file = new FileInfo(DataPath(id));
        return file.Exists ? file.Length : 0;
    }

    /// <summary>Takes the upload's lock without waiting; null when another request is writing to it.</summary>
    public async Task<IDisposable?> TryLockAsync(Guid id)
    {
        var gate = locks.GetOrAdd(id, _ => new SemaphoreSlim(1, 1));
        return await gate.WaitAsync(TimeSpan.Zero) ? new Releaser(gate) : null;
    }

    /// <summary>
    /// Appends the request body at <paramref name="offset"/>, up to the declared length. Returns the new offset.
    /// When <paramref name="verify"/> refuses the chunk, the file is cut back to <paramref name="offset"/>.
    /// </summary>
    public async Task<(long Offset, bool Verified)> AppendAsync(
        Guid id, long offset, long length, Stream body, Func<Stream, long, Task<bool>>? verify, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(DataPath(id), FileMode.Open, FileAccess.ReadWrite, FileShare.Read, 81920, FileOptions.Asynchronous);
        file.Seek(offset, SeekOrigin.Begin);
        var buffer = new byte[81920];
        var remaining = length - offset;
        try
        {
            int read;
            while (remaining > 0 && (read = await body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken)) > 0)
            {
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                remaining -= read;
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            // The connection broke: keep what arrived (the client asks for the offset and resumes from there).
        }

        await file.FlushAsync(CancellationToken.None);
        file.Flush(flushToDisk: true);
        var end = file.Position;
        if (verify is not null && !await verify(file, offset))
        {
            file.SetLength(offset);
            file.Flush(flushToDisk: true);
            return (offset, false);
        }

        return (end, true);
    }

    /// <summary>Records that every byte arrived, before the file is handed on (which may move it).</summary>
    public async Task MarkReceivedAsync(UploadInfo info, CancellationToken cancellationToken) =>
        await WriteInfoAsync(info with { Received = true }, cancellationToken);

    public async Task MarkCompletedAsync(UploadInfo info, CancellationToken cancellationToken) =>
        await WriteInfoAsync(info with { Completed = true }, cancellationToken);

    /// <summary>Records what the hand-off has done so far (the title it made), so that a retry does not do it twice.</summary>
    public Task SaveAsync(UploadInfo info, CancellationToken cancellationToken) => WriteInfoAsync(info, cancellationToken);

    /// <summary>Every upload on disk (unreadable or half-written info files are skipped).</summary>
    public async Task<IReadOnlyList<UploadInfo>> ListAsync(CancellationToken cancellationToken)
    {
        var found = new List<UploadInfo>();
        if (!Directory.Exists(Folder))
        {
            return found;
        }

        foreach (var path in Directory.EnumerateFiles(Folder, "*.json"))
        {
            if (Guid.TryParseExact(Path.GetFileNameWithoutExtension(path), "N", out var id))
            {
                try
                {
                    if (await FindAsync(id, cancellationToken) is { } info)
                    {
                        found.Add(info);
                    }
                }
                catch (JsonException)
                {
                    // not ours, or damaged: left for an operator
                }
            }
        }

        return found;
    }

    public void Delete(Guid id)
    {
        File.Delete(DataPath(id));
        File.Delete(InfoPath(id));
        locks.TryRemove(id, out _);
    }

    private async Task WriteInfoAsync(UploadInfo info, CancellationToken cancellationToken)
    {
        var temp = InfoPath(info.Id) + ".tmp";
        await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.WriteThrough))
        {
            await JsonSerializer.SerializeAsync(stream, info, Json, cancellationToken);
        }

        File.Move(temp, InfoPath(info.Id), overwrite: true);
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}
