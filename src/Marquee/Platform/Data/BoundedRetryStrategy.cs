using Microsoft.EntityFrameworkCore.Storage;
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

    protected override bool ShouldRetryOn(Exception? exception) => !InTransaction && base.ShouldRetryOn(exception);
}
