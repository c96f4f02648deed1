using System.Text.Json;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Marquee.Tests.Platform;

/// <summary>
/// R5, R31: when EF Core's execution strategy gives up (<see cref="RetryLimitExceededException"/>: the database stayed
/// down for the whole retry budget), the API answers 503 problem details with <c>Retry-After</c>, like any other
/// storage fault, never a 500. The retried failure is often one the classifier would not know on its own (a timeout).
/// </summary>
public sealed class StorageFaultTests
{
    private static RetryLimitExceededException GaveUp(Exception last) =>
        new("Maximum number of retries (6) exceeded while executing database operations with 'BoundedRetryStrategy'.", last);

    [Fact]
    public void Classify_WhenRetriesWereExhausted_IsUnavailableWhateverTheLastFailure()
    {
        Assert.Equal(StorageFault.None, StorageFaults.Classify(new TimeoutException())); // not ours alone...
        Assert.Equal(StorageFault.Unavailable, StorageFaults.Classify(GaveUp(new TimeoutException()))); // ...but after every retry failed
        Assert.Equal(StorageFault.Unavailable, StorageFaults.Classify(GaveUp(new PostgresException("deadlock detected", "ERROR", "ERROR", "40P01"))));
        Assert.Equal(StorageFault.Unavailable, StorageFaults.Classify(new AggregateException(GaveUp(new InvalidOperationException("x")))));
        Assert.Equal(StorageFault.Unavailable, StorageFaults.Classify(new DbUpdateException("save", GaveUp(new TimeoutException()))));
    }

    /// <summary>R6: a multi-host connection string with no primary yet (fail-over under way) is an outage, not a 500.</summary>
    [Fact]
    public void Classify_WhenNpgsqlFindsNoSuitableHost_IsUnavailable_AndRetried()
    {
        var none = new NpgsqlException("No suitable host was found.");
        var unreachable = new NpgsqlException("Unable to connect to a suitable host. Check inner exception for more details.", new AggregateException(new TimeoutException()));
        Assert.True(Marquee.Platform.Data.BoundedRetryStrategy.IsNoSuitableHost(none));
        Assert.True(Marquee.Platform.Data.BoundedRetryStrategy.IsNoSuitableHost(unreachable));
        Assert.Equal(StorageFault.Unavailable, StorageFaults.Classify(none));
        Assert.Equal(StorageFault.Unavailable, StorageFaults.Classify(unreachable));

        // Controls: other Npgsql failures keep their own classification.
        Assert.False(Marquee.Platform.Data.BoundedRetryStrategy.IsNoSuitableHost(new NpgsqlException("Something else entirely.")));
        Assert.False(Marquee.Platform.Data.BoundedRetryStrategy.IsNoSuitableHost(new PostgresException("duplicate key", "ERROR", "ERROR", "23505")));
        Assert.Equal(StorageFault.None, StorageFaults.Classify(new NpgsqlException("Something else entirely.")));
    }

    [Fact]
    public void Classify_WhenRetriesEndedOnAFullDisk_StaysFull() =>
        Assert.Equal(StorageFault.Full, StorageFaults.Classify(GaveUp(new DbUpdateException("save", new PostgresException("could not extend file", "ERROR", "ERROR", "53100")))));

    [Fact]
    public async Task Handler_WhenRetriesWereExhaustedOnAnApiRequest_Answers503ProblemWithRetryAfter()
    {
        await using var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var handler = new StorageFaultExceptionHandler(services.GetRequiredService<IProblemDetailsService>(), NullLogger<StorageFaultExceptionHandler>.Instance);
        var http = new DefaultHttpContext { RequestServices = services };
        http.Request.Method = "POST";
        http.Request.Path = "/api/catalog/titles";
        http.Response.Body = new MemoryStream();

        var handled = await handler.TryHandleAsync(http, GaveUp(new TimeoutException("Timeout during reading attempt")), CancellationToken.None);

        Assert.True(handled);
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, http.Response.StatusCode);
        Assert.Equal(StorageFaultExceptionHandler.RetryAfterSeconds, http.Response.Headers.RetryAfter.ToString());
        http.Response.Body.Position = 0;
        var problem = await JsonSerializer.DeserializeAsync<JsonElement>(http.Response.Body);
        Assert.Equal(503, problem.GetProperty("status").GetInt32());
        Assert.DoesNotContain("Timeout during reading", problem.ToString(), StringComparison.Ordinal); // no internals
    }
}
