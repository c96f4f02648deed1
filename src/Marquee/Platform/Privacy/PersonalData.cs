using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Platform.Privacy;

/// <summary>
/// Implemented once by every module that holds personal data of a viewer: what it holds about one account, for the
/// data export (<c>GET /api/identity/export</c>, one section per module). Erasure is the other half of the contract:
/// each such module handles Identity's <c>AccountDeleted</c> event (delivered at least once through the outbox) and
/// deletes what it may delete and pseudonymises what it must keep, idempotently.
/// </summary>
public interface IPersonalData
{
    /// <summary>The export's section name, the module's name in lower case (<c>identity</c>, <c>billing</c>, ...).</summary>
    string Section { get; }

    /// <summary>Everything this module holds about the account, as plain serialisable objects; null when nothing.</summary>
    Task<object?> ExportAsync(Guid accountId, CancellationToken cancellationToken);
}

/// <summary>
/// The person being erased, as each module's eraser sees it: the account id, the e-mail and display name it had (to
/// find them in free text), and the erasure's pseudonym, one per erasure and the same in every module, so that kept
/// rows (ledger, invoices, audit lines) still belong together without pointing at anyone.
/// </summary>
public sealed record DataSubject(Guid AccountId, string? Email, string? DisplayName, Guid Pseudonym)
{
    /// <summary>The pseudonym where text is stored: <c>erased:&lt;32 hex digits&gt;</c>.</summary>
    public string PseudonymText => $"erased:{Pseudonym:N}";

    /// <summary>The strings that identify the subject in text: the id in its usual forms, the e-mail, the display name.</summary>
    public IReadOnlyList<string> Needles =>
    [
        .. new[] { AccountId.ToString(), AccountId.ToString().ToUpperInvariant(), AccountId.ToString("N"), Email, Email?.ToUpperInvariant(), DisplayName }
            .Where(s => !string.IsNullOrWhiteSpace(s) && s.Length >= 4)
            .Select(s => s!)
            .Distinct(StringComparer.Ordinal),
    ];
}

public static class PersonalDataRegistration
{
    /// <summary>Registers a module's <see cref="IPersonalData"/> (scoped, like the module's data context).</summary>
    public static IServiceCollection AddPersonalData<T>(this IServiceCollection services)
        where T : class, IPersonalData
    {
        services.AddScoped<T>();
        services.AddScoped<IPersonalData>(sp => sp.GetRequiredService<T>());
        return services;
    }
}

/// <summary>Erasure helpers every module's eraser uses on its own data context.</summary>
public static class PersonalDataScrub
{
    /// <summary>
    /// Pseudonymises the subject in every table of <paramref name="db"/>: every uuid column equal to the account id
    /// becomes the pseudonym, and in every text column the subject's <see cref="DataSubject.Needles"/> are replaced by
    /// <see cref="DataSubject.PseudonymText"/>. For modules that must keep their rows (ledger, invoices). Idempotent.
    /// Returns the number of rows changed.
    /// </summary>
    public static async Task<int> PseudonymiseAsync(ModuleDbContext db, DataSubject subject, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(subject);
        var sqlite = db.Database.IsSqlite();
        var changed = 0;
        // The outbox and inbox are not the module's data: delivered messages are scrubbed (ScrubOutboxAsync), and
        // undelivered ones must still deserialise.
        foreach (var entity in db.Model.GetEntityTypes().Where(e => e.GetTableName() is not null && !e.IsOwned()
                     && e.ClrType != typeof(OutboxMessage) && e.ClrType != typeof(InboxRecord)))
        {
            var table = sqlite ? Quote(entity.GetTableName()!) : $"{Quote(entity.GetSchema() ?? db.Schema)}.{Quote(entity.GetTableName()!)}";
            var store = Microsoft.EntityFrameworkCore.Metadata.StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
            foreach (var property in entity.GetProperties())
            {
                var column = property.GetColumnName(store);
                if (column is null)
                {
                    continue;
                }

                var type = Nullable.GetUnderlyingType(property.ClrType) ?? property.ClrType;
                if (type == typeof(Guid))
                {
                    // SQLite keeps uuids as upper-case text; PostgreSQL as uuid.
                    var sql = $"UPDATE {table} SET {Quote(column)} = {{0}} WHERE {Quote(column)} = {{1}}";
                    object[] values = sqlite
                        ? [subject.Pseudonym.ToString().ToUpperInvariant(), subject.AccountId.ToString().ToUpperInvariant()]
                        : [subject.Pseudonym, subject.AccountId];
                    changed += await db.Database.ExecuteSqlRawAsync(sql, values, cancellationToken);
                }
                else if (type == typeof(string) && property.GetValueConverter() is null
                         && property.GetColumnType()?.Contains("json", StringComparison.OrdinalIgnoreCase) != true)
                {
                    var sql = $"UPDATE {table} SET {Quote(column)} = REPLACE({Quote(column)}, {{0}}, {{1}}) WHERE {Quote(column)} LIKE {{2}}";
                    foreach (var needle in subject.Needles)
                    {
                        changed += await db.Database.ExecuteSqlRawAsync(sql, [needle, subject.PseudonymText, $"%{needle}%"], cancellationToken);
                    }
                }
            }
        }

        return changed;
    }

    /// <summary>
    /// Deletes the delivered messages of the module's outbox that mention the subject (they did their work; their
    /// payloads would keep the id or e-mail); undelivered ones stay to be delivered. Returns how many went.
    /// </summary>
    public static async Task<int> ScrubOutboxAsync(ModuleDbContext db, DataSubject subject, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(subject);
        var removed = 0;
        foreach (var needle in subject.Needles)
        {
            removed += await db.Outbox.Where(m => m.DeliveredAt != null && m.Payload.Contains(needle)).ExecuteDeleteAsync(cancellationToken);
        }

        return removed;
    }

    private static string Quote(string name) => $"\"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
}

/// <summary>
/// On a domain event that carries personal data (an e-mail, say): once every handler has handled it, the dispatcher
/// blanks its stored payload (<c>{}</c>), so the outbox does not keep a copy of the data after the fact.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class RedactAfterDeliveryAttribute : Attribute
{
    /// <summary>
    /// The event is an erasure: once every handler has run and the payload is blanked, the dispatcher also truncates
    /// SQLite's write-ahead log, which would otherwise keep old page images of the erased rows until a checkpoint.
    /// </summary>
    public bool Erasure { get; init; }
}
