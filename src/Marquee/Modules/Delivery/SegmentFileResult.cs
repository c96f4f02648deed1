using Microsoft.Net.Http.Headers;

namespace Marquee.Delivery;

/// <summary>
/// A published media file (segment, init segment, poster) sent whole. A plain <c>GET</c> (no <c>Range</c>, no
/// conditional header) reads the file straight into the response's output buffers in 64 KB steps: one copy, no
/// intermediate buffer, no thread-pool hop per read. Kestrel has no <c>sendfile(2)</c>; its file fallback reads
/// asynchronously (on Linux, a thread-pool work item per 64 KB read) into a buffer and copies that into the output,
/// which measured about a third more CPU per 1 MB segment on 2 cores (docs/benchmarks.md). Reads are synchronous, as
/// nginx's are without <c>aio</c>: published segments are small and usually in the page cache. Everything else
/// (ranges, <c>If-Modified-Since</c>, <c>HEAD</c>) goes to ASP.NET Core's <c>PhysicalFile</c> result, which handles them.
/// </summary>
internal sealed class SegmentFileResult(string path, string contentType) : IResult
{
    private const int Chunk = 64 * 1024;
    private const int FlushEvery = 256 * 1024;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var request = httpContext.Request;
        if (!HttpMethods.IsGet(request.Method) || request.Headers.Range.Count > 0 || request.Headers.IfModifiedSince.Count > 0
            || request.Headers.IfNoneMatch.Count > 0 || request.Headers.IfMatch.Count > 0 || request.Headers.IfUnmodifiedSince.Count > 0
            || request.Headers.IfRange.Count > 0)
        {
            await TypedResults.PhysicalFile(path, contentType, enableRangeProcessing: true).ExecuteAsync(httpContext);
            return;
        }

        var info = new FileInfo(path);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.None);
        var length = RandomAccess.GetLength(handle);
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.ContentLength = length;
        response.Headers.AcceptRanges = "bytes";
        response.Headers.LastModified = HeaderUtilities.FormatDate(Truncate(info.LastWriteTimeUtc));

        var writer = response.BodyWriter;
        var cancel = httpContext.RequestAborted;
        long offset = 0, unflushed = 0;
        while (offset < length)
        {
            var memory = writer.GetMemory(Chunk);
            var want = (int)Math.Min(memory.Length, length - offset);
            var read = RandomAccess.Read(handle, memory.Span[..want], offset);
            if (read == 0)
            {
                // The file shrank after its length was read (it never should: published files do not change).
                // Kestrel aborts the response for the missing bytes rather than sending a short body as whole.
                break;
            }

            writer.Advance(read);
            offset += read;
            unflushed += read;
            if (unflushed >= FlushEvery || offset == length)
            {
                unflushed = 0;
                var flushed = await writer.FlushAsync(cancel);
                if (flushed.IsCanceled || flushed.IsCompleted)
                {
                    return; // the client went away
                }
            }
        }
    }

    /// <summary>Whole seconds, as <c>Last-Modified</c> carries them (and as <c>PhysicalFile</c> sends it).</summary>
    private static DateTimeOffset Truncate(DateTime utc) =>
        new(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, utc.Second, TimeSpan.Zero);
}
