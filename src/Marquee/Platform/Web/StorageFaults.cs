using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Marquee.Platform.Web;

/// <summary>What a failure of storage means to a caller: worth retrying later, or not ours to classify.</summary>
public enum StorageFault
{
    None,

    /// <summary>The disk under the data folder or the database is full (SQLite <c>SQLITE_FULL</c>, ENOSPC, PostgreSQL 53100).</summary>
    Full,

    /// <summary>The database cannot be reached or is restarting (a transient Npgsql error, PostgreSQL 57P01-57P03, class 08).</summary>
    Unavailable,
}

public static class StorageFaults
{
    /// <summary>errno ENOSPC on Linux: .NET puts the raw errno in <see cref="Exception.HResult"/> of the <see cref="IOException"/>.</summary>
    private const int Enospc = 28;

    /// <summary>The fault behind an exception, looking through wrappers (DbUpdateException, RetryLimitExceededException, aggregates).</summary>
    /// <remarks>
    /// EF Core's execution strategy gives up with <see cref="RetryLimitExceededException"/> once every retry of a transient
    /// failure has failed: the database stayed unreachable for the whole retry budget. Its inner exception says why when
    /// it is one of the faults below (a full disk stays <see cref="StorageFault.Full"/>); whatever else it holds (a
    /// <see cref="TimeoutException"/>, a transient PostgreSQL error of another class), the answer is
    /// <see cref="StorageFault.Unavailable"/>: the write did not happen and may be tried again.
    /// </remarks>
    public static StorageFault Classify(Exception? exception)
    {
        var retriesExhausted = false;
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is RetryLimitExceededException)
            {
                retriesExhausted = true;
                continue;
            }

            switch (e)
            {
                case SqliteException { SqliteErrorCode: 13 }: // SQLITE_FULL: "database or disk is full"
                case IOException io when (io.HResult & 0xFFFF) == Enospc || io.HResult == unchecked((int)0x80070070): // ENOSPC; ERROR_DISK_FULL
                case PostgresException { SqlState: "53100" }: // disk_full
                    return StorageFault.Full;
                case PostgresException { SqlState: "57P01" or "57P02" or "57P03" or "53300" } or PostgresException { SqlState: ['0', '8', ..] }:
                    return StorageFault.Unavailable; // shutdown, crash, starting up, too many connections, connection exceptions
                case NpgsqlException { IsTransient: true } and not PostgresException:
                    return StorageFault.Unavailable;
                case NpgsqlException when Marquee.Platform.Data.BoundedRetryStrategy.IsNoSuitableHost(e): // R6: fail-over, no primary yet
                    return StorageFault.Unavailable;
            }

            if (e is AggregateException { InnerExceptions.Count: 1 } aggregate)
            {
                var inner = Classify(aggregate.InnerExceptions[0]);
                return inner == StorageFault.None && retriesExhausted ? StorageFault.Unavailable : inner;
            }
        }

        return retriesExhausted ? StorageFault.Unavailable : StorageFault.None;
    }
}

/// <summary>
/// R4, R5: a full disk or an unreachable database answers API callers with 503 problem details and <c>Retry-After</c>
/// (the write did not happen; try again), never a 500. Pages keep their error page.
/// </summary>
internal sealed partial class StorageFaultExceptionHandler(IProblemDetailsService problems, ILogger<StorageFaultExceptionHandler> logger) : IExceptionHandler
{
    public const string RetryAfterSeconds = "5";

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var fault = StorageFaults.Classify(exception);
        // API callers get the 503 problem; pages keep their error page (the handler of pages runs this too).
        if (fault == StorageFault.None || httpContext.Response.HasStarted || !httpContext.Request.Path.StartsWithSegments("/api"))
        {
            return false;
        }

        if (fault == StorageFault.Full)
        {
            LogFull(logger, httpContext.Request.Method, httpContext.Request.Path);
        }
        else
        {
            LogUnavailable(logger, httpContext.Request.Method, httpContext.Request.Path);
        }

        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = RetryAfterSeconds;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Service unavailable",
                Detail = fault == StorageFault.Full
                    ? "The server's storage is full, so nothing was saved. Try again later."
                    : "The database cannot be reached at the moment, so nothing was saved. Try again in a few seconds.",
                Type = "https://tools.ietf.org/html/rfc9110#section-15.6.4",
            },
        });
    }

    [LoggerMessage(EventId = 5030, Level = LogLevel.Error, Message = "{Method} {Path}: storage full (database or disk); answered 503")]
    private static partial void LogFull(ILogger logger, string method, PathString path);

    [LoggerMessage(EventId = 5031, Level = LogLevel.Warning, Message = "{Method} {Path}: database unavailable; answered 503")]
    private static partial void LogUnavailable(ILogger logger, string method, PathString path);
}
