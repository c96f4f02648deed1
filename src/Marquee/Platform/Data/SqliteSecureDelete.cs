using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Marquee.Platform.Data;

/// <summary>
/// R32: SQLite overwrites deleted content with zeros (<c>PRAGMA secure_delete=ON</c>, per connection), so a page written
/// after an erasure keeps nothing of the erased rows in its free space.
/// </summary>
internal sealed class SqliteSecureDelete : DbConnectionInterceptor
{
    public static readonly SqliteSecureDelete Instance = new();

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA secure_delete=ON;";
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA secure_delete=ON;";
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
