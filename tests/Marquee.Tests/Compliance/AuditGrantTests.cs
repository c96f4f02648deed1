using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Cli;
using Marquee.Identity.Data;
using Marquee.Platform.Audit;
using Marquee.Platform.Events;
using Marquee.Platform.Web;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Xunit.Abstractions;

namespace Marquee.Tests.Compliance;

/// <summary>
/// R24 on PostgreSQL: with <c>Marquee:Database:AppRole</c>, <c>marquee db migrate</c> (as the owner) grants the app's
/// role no UPDATE or DELETE on the append-only tables, so the database refuses them by permission, not only by trigger.
/// </summary>
public sealed class AuditGrantTests(ITestOutputHelper output)
{
    [Fact]
    public async Task As_the_app_role_audit_lines_cannot_be_changed_or_deleted_even_without_triggers_but_are_appended_and_redacted()
    {
        if (!TestDatabase.IsPostgres)
        {
            return; // grants are PostgreSQL's; SQLite has one user (its triggers: AuditLogTests)
        }

        var admin = Environment.GetEnvironmentVariable("MARQUEE_TEST_PG")!;
        var role = $"marquee_app_{Guid.NewGuid():N}"[..24];
        const string password = "app-role-password";
        await ExecuteAsync(admin, $"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'");
        try
        {
            await using var storage = await TestStorage.CreateAsync();
            var owner = storage.Database.ConnectionString!;
            var asApp = new NpgsqlConnectionStringBuilder(owner) { Username = role, Password = password }.ToString();
            var ownerArgs = storage.Settings().Where(kv => kv.Value is not null).Select(kv => $"--{kv.Key}={kv.Value}").Append($"--Marquee:Database:AppRole={role}").ToList();
            var appArgs = ownerArgs.Where(a => !a.StartsWith("--ConnectionStrings:Marquee=", StringComparison.Ordinal)).Append($"--ConnectionStrings:Marquee={asApp}").ToList();

            // Before the grants the app's role can do nothing; the owner's migrate grants it the app's rights.
            var before = await Record.ExceptionAsync(() => ExecuteAsync(asApp, "SELECT count(*) FROM compliance.audit_entries"));
            Assert.Equal("42501", Assert.IsType<PostgresException>(before).SqlState);
            Assert.Equal(MarqueeCommandLine.Ok, await MarqueeCommandLine.RunAsync(["db", "migrate", .. ownerArgs]));
            // The app's commands refuse the owner's login when AppRole is set, and run as the role.
            Assert.Equal(MarqueeCommandLine.BadConfiguration, await MarqueeCommandLine.RunAsync(["audit", "verify", .. ownerArgs]));
            Assert.Equal(MarqueeCommandLine.Ok, await MarqueeCommandLine.RunAsync(["audit", "verify", .. appArgs]));

            await using var app = await MarqueeApp.StartAsync(storage: storage, configure: c =>
            {
                c["ConnectionStrings:Marquee"] = asApp;
                c["Marquee:Database:AppRole"] = role;
            });
            Assert.Equal(role, await ScalarAsync<string>(asApp, "SELECT current_user"));

            // Appending works as the role (a line and the chain's head).
            await app.ScopedAsync(async sp =>
            {
                await sp.GetRequiredService<IAuditLog>().RecordAsync(new AuditRecord("ops", "tests.recorded", "thing:1", "127.0.0.1"), CancellationToken.None);
                return 0;
            });

            // An erasure still redacts the person's lines (through the owner's function), as the role.
            var email = $"grant-{Guid.NewGuid():N}@example.com";
            var accountPassword = Marquee.Identity.Accounts.RandomPassword();
            var id = await app.CreateAccountAsync(email, accountPassword, [Roles.Viewer]);
            using (var client = app.ClientWith(await app.SignInAsync(email, accountPassword)))
            {
                Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/api/identity/deletion", new { password = accountPassword })).StatusCode);
            }

            await Poll.UntilAsync(() => app.Client.GetFromJsonAsync<JsonElement>($"/api/compliance/audit?actor={Uri.EscapeDataString(email)}"),
                a => a.GetArrayLength() > 0, TimeSpan.FromSeconds(30), "the audit line of the deletion request");
            Assert.Equal(HttpStatusCode.NoContent, (await app.Client.PostAsync($"/api/identity/subjects/{id}/erasure", null)).StatusCode);
            await Poll.UntilAsync(
                () => app.ScopedAsync(async sp => await sp.GetRequiredService<IdentityDb>().Set<OutboxMessage>().AsNoTracking()
                    .Where(m => m.EventName == "identity.account-deleted.v1" && m.Payload.Contains(id.ToString())).CountAsync()),
                n => n == 0, TimeSpan.FromSeconds(30), "every module to handle the erasure");
            Assert.Equal(0L, await ScalarAsync<long>(owner, $"SELECT count(*) FROM compliance.audit_entries WHERE \"Actor\" LIKE '%{email}%' OR \"Target\" LIKE '%{id}%'"));
            Assert.True(await ScalarAsync<long>(owner, "SELECT count(*) FROM compliance.audit_entries WHERE \"RedactedAt\" IS NOT NULL AND \"Actor\" LIKE 'erased:%'") > 0);

            // The triggers off (as the owner), so that only the grants stand in the way.
            await ExecuteAsync(owner, "ALTER TABLE compliance.audit_entries DISABLE TRIGGER USER; ALTER TABLE rights.contract_history DISABLE TRIGGER USER;");
            var update = await Record.ExceptionAsync(() => ExecuteAsync(asApp, "UPDATE compliance.audit_entries SET \"Actor\" = 'someone else' WHERE \"Actor\" = 'ops'"));
            var delete = await Record.ExceptionAsync(() => ExecuteAsync(asApp, "DELETE FROM compliance.audit_entries WHERE \"Actor\" = 'ops'"));
            var truncate = await Record.ExceptionAsync(() => ExecuteAsync(asApp, "TRUNCATE compliance.audit_entries"));
            var history = await Record.ExceptionAsync(() => ExecuteAsync(asApp, "DELETE FROM rights.contract_history"));
            var migrations = await Record.ExceptionAsync(() => ExecuteAsync(asApp, "DELETE FROM compliance.\"__migrations\""));
            output.WriteLine($"as {role}: update: {update?.Message}; delete: {delete?.Message}");
            Assert.All(new[] { update, delete, truncate, history, migrations }, e => Assert.Equal("42501", Assert.IsType<PostgresException>(e).SqlState));
            Assert.Equal(1L, await ScalarAsync<long>(asApp, """
                INSERT INTO compliance.audit_entries ("At", "Actor", "Action", "Target") VALUES (now(), 'raw', 'tests.raw', 'thing:2');
                SELECT count(*) FROM compliance.audit_entries WHERE "Actor" = 'raw'
                """));
            // The app's other tables stay writable (an ordinary UPDATE and DELETE as the role).
            await ExecuteAsync(asApp, "UPDATE identity.accounts SET \"DisplayName\" = 'x' WHERE false; DELETE FROM identity.accounts WHERE false;");

            // Negative control: the same statements as the owner, who has every right, with the triggers still off: they pass.
            Assert.True(await ScalarAsync<long>(owner, "WITH u AS (UPDATE compliance.audit_entries SET \"Actor\" = 'someone else' WHERE \"Actor\" = 'ops' RETURNING 1) SELECT count(*) FROM u") > 0);
            Assert.True(await ScalarAsync<long>(owner, "WITH d AS (DELETE FROM compliance.audit_entries WHERE \"Actor\" = 'someone else' RETURNING 1) SELECT count(*) FROM d") > 0);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await ExecuteAsync(admin, $"DROP ROLE IF EXISTS \"{role}\"");
        }
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
