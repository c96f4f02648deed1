using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Npgsql.EntityFrameworkCore.PostgreSQL;

namespace Marquee.Platform.Data;

/// <summary>
/// PostgreSQL's retrying execution strategy, bounded (<c>Marquee:Database:MaxRetryCount</c>, <c>MaxRetryDelay</c>), that
/// also lets code open its own transaction: there it runs the operation once and does not retry (retrying one statement
/// of a broken transaction would be wrong; the whole unit is retried by its caller), where EF's stock strategy would
/// refuse to run at all. Outside a transaction, a SaveChanges or query that meets a restarting server or a dead pooled
/// connection (R5) is retried on a fresh connection.
/// </summary>
internal sealed class BoundedRetryStrategy(ExecutionStrategyDependencies dependencies, int maxRetryCount, TimeSpan maxRetryDelay)
    : NpgsqlRetryingExecutionStrategy(dependencies, maxRetryCount, maxRetryDelay, errorCodesToAdd: null)
{
    private bool InTransaction =>
        Dependencies.CurrentContext.Context.Database.CurrentTransaction is not null
        || System.Transactions.Transaction.Current is not null;

    protected override void OnFirstExecution()
    {
        if (InTransaction)
        {
            ExceptionsEncountered.Clear(); // run once, not retried (see the summary)
            return;
        }

        base.OnFirstExecution();
    }

    protected override bool ShouldRetryOn(Exception? exception) => !InTransaction && (base.ShouldRetryOn(exception) || IsNoSuitableHost(exception));

    /// <summary>
    /// R6: with a multi-host connection string (<c>Host=a,b;Target Session Attributes=primary</c>), while the primary is
    /// dead and the standby not yet promoted, Npgsql finds no host to use and throws a plain <see cref="NpgsqlException"/>
    /// that it does not mark transient ("No suitable host was found." or "Unable to connect to a suitable host…", its only
    /// two messages for it). It is the fail-over's outage: retried, and answered 503 like a restart, not 500.
    /// </summary>
    internal static bool IsNoSuitableHost(Exception? exception) =>
        exception is NpgsqlException { InnerException: null or AggregateException } e and not PostgresException
        && (e.Message.StartsWith("No suitable host", StringComparison.Ordinal) || e.Message.StartsWith("Unable to connect to a suitable host", StringComparison.Ordinal));
}
