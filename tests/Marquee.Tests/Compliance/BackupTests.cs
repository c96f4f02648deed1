using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Tests.Billing;
using Marquee.Tests.Support;
using Xunit.Abstractions;

namespace Marquee.Tests.Compliance;

/// <summary>
/// R32 and backups: <c>marquee backup create</c> and <c>restore</c> run as the real program (the CLI's code path) on a test
/// host's data folder and database. A restored backup taken before an erasure gets the erasure again (the erasure register
/// outlives the restore) before any server serves it: the table scan and the data folder's byte scan of
/// <see cref="PersonalDataScan"/> find nothing of the person, and the other account is whole. Negative control: the same
/// restore with the re-application switched off brings the person back. SQLite and PostgreSQL (there the database is the
/// operator's half: pg_dump beside the backup, pg_restore before <c>marquee backup restore</c>; the negative control
/// restores the data folder only, and its warehouse brings the person back).
/// </summary>
public sealed class BackupTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_restored_backup_gets_the_erasures_made_since_and_without_them_the_person_is_back()
    {
        var clock = Stopwatch.StartNew();
        await using var storage = await TestStorage.CreateAsync();
        var package = new HlsStub();
        await package.InitializeAsync();
        try
        {
            await RestoredBackupAsync(storage, package);
        }
        finally
        {
            await package.DisposeAsync();
        }

        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s in all");
    }

    private async Task RestoredBackupAsync(TestStorage storage, HlsStub package)
    {
        var clock = Stopwatch.StartNew();
        var backup = Path.Combine(Path.GetTempPath(), "marquee-tests", "backup-" + Guid.NewGuid().ToString("N"));
        var env = storage.Environment();

        PrivacyTests.Person a, b;
        PersonalDataScan scan;
        await using (var app = await BillingHost.StartAsync(package, requireEntitlement: false, storage: storage))
        {
            a = await PrivacyTests.PersonAsync(app, withPurchase: true);
            b = await PrivacyTests.PersonAsync(app, withPurchase: false);
            await PrivacyTests.ExportWhenCompleteAsync(a); // the analytics events are in the warehouse, the audit lines written
            await PrivacyTests.ExportWhenCompleteAsync(b);
            scan = PersonalDataScan.For(a.Id, a.Email, a.DisplayName, a.Phone, a.ProfileName);
            var before = await scan.ScanDatabaseAsync(app);
            output.WriteLine($"before the backup: {before.Found.Count} hits in {before.Tables} tables");
            Assert.NotEmpty(before.Found);
        }

        var (code, stdout, stderr) = await MarqueeProcess.RunAsync(["backup", "create", "--to", backup], env);
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: backup create: {stdout}{stderr}");
        var dump = backup + ".dump";
        if (TestDatabase.IsPostgres)
        {
            await PostgresToolAsync(storage, "pg_dump", "-Fc", "-f", dump); // the operator's half of the backup
        }

        Assert.True(code == 0, stderr + stdout);
        Assert.True(File.Exists(Path.Combine(backup, "manifest.json")));

        // The erasure, after the backup, through the admin's data-subject request.
        await using (var app = await BillingHost.StartAsync(package, requireEntitlement: false, storage: storage))
        {
            Assert.Equal(HttpStatusCode.NoContent, (await app.Client.PostAsync($"/api/identity/subjects/{a.Id}/erasure", null)).StatusCode);
            await PrivacyTests.ErasureDeliveredAsync(app, a.Id);
            Assert.Empty((await scan.ScanDatabaseAsync(app)).Found);
        }

        // A backup taken after the erasure holds nothing of the person (byte scan of every file of it).
        var later = backup + "-after";
        (code, stdout, stderr) = await MarqueeProcess.RunAsync(["backup", "create", "--to", later], env);
        Assert.True(code == 0, stderr + stdout);
        var inLater = scan.ScanFiles(later);
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: a backup after the erasure; files with the person: {string.Join(", ", inLater)}");
        Assert.Empty(inLater);
        Assert.NotEmpty(scan.ScanFiles(backup)); // the one taken before holds them (the scan can fail)
        Directory.Delete(later, recursive: true);

        var register = await File.ReadAllTextAsync(Path.Combine(storage.DataDir, "privacy", "erasures.log"));
        Assert.Contains(a.Id.ToString(), register, StringComparison.Ordinal);
        Assert.DoesNotContain(a.Email, register, StringComparison.OrdinalIgnoreCase); // ids and times only

        // Negative control: restored without erasing again, the person is back in the data folder.
        (code, stdout, stderr) = await MarqueeProcess.RunAsync(["backup", "restore", "--from", backup, "--Marquee:Backup:ReapplyErasures=false"], env);
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: restore without re-application: {stdout}{stderr}");
        Assert.True(code == 0, stderr + stdout);
        var control = scan.ScanFiles(storage.DataDir);
        output.WriteLine("control, files with the person: " + string.Join(", ", control));
        Assert.NotEmpty(control);
        Assert.DoesNotContain("privacy/erasures.log", control); // the register holds the id and the time, nothing else
        if (!TestDatabase.IsPostgres)
        {
            Assert.Contains("marquee.db", control);
        }

        // The restore as an operator runs it (PostgreSQL: pg_restore first): the erasure made since the backup is applied again before it returns.
        if (TestDatabase.IsPostgres)
        {
            await PostgresToolAsync(storage, "pg_restore", "--clean", "--if-exists", dump);
            File.Delete(dump);
        }

        (code, stdout, stderr) = await MarqueeProcess.RunAsync(["backup", "restore", "--from", backup], env);
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: restore: {stdout}{stderr}");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("Erased again 1 account(s) of 1 recorded", stdout, StringComparison.Ordinal);
        Assert.Contains("(1 were in the restored database)", stdout, StringComparison.Ordinal);
        Assert.Empty(scan.ScanFiles(storage.DataDir)); // before any server started

        await using (var app = await BillingHost.StartAsync(package, requireEntitlement: false, storage: storage))
        {
            var after = await scan.ScanDatabaseAsync(app);
            var files = scan.ScanFiles(storage.DataDir);
            output.WriteLine($"after the restore: {after.Found.Count} hits in {after.Tables} tables, {after.Rows} rows; files: {string.Join(", ", files)}");
            Assert.True(after.Found.Count == 0, "left after the restore:\n" + string.Join('\n', after.Found));
            Assert.Empty(files);
            await Assert.ThrowsAsync<InvalidOperationException>(() => app.SignInAsync(a.Email, a.Password));

            // The other account is whole: it signs in, and its export still has its profile and its playback session.
            using var other = app.ClientWith(await app.SignInAsync(b.Email, b.Password));
            var export = await other.GetFromJsonAsync<JsonElement>("/api/identity/export");
            Assert.Equal(b.ProfileName, export.GetProperty("identity").GetProperty("profiles")[0].GetProperty("name").GetString());
            Assert.Equal(b.DisplayName, export.GetProperty("identity").GetProperty("account").GetProperty("displayName").GetString());
            Assert.Equal(1, export.GetProperty("delivery").GetProperty("playbackSessions").GetArrayLength());
        }

        Directory.Delete(backup, recursive: true);
    }

    /// <summary>pg_dump or pg_restore on the test database (the newest PostgreSQL client installed).</summary>
    private static async Task PostgresToolAsync(TestStorage storage, string tool, params string[] arguments)
    {
        var cs = new Npgsql.NpgsqlConnectionStringBuilder(storage.Database.ConnectionString);
        var exe = Directory.Exists("/usr/lib/postgresql") ? Directory.GetFiles("/usr/lib/postgresql", tool, SearchOption.AllDirectories).Order().LastOrDefault() ?? tool : tool;
        string[] connection = ["-h", cs.Host!, "-p", cs.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", cs.Username!];
        var (exit, stdout, stderr) = tool == "pg_restore"
            ? await Tools.RunAsync(exe, [.. connection, "-d", cs.Database!, .. arguments], storage.DataDir)
            : await Tools.RunAsync(exe, [.. connection, .. arguments, cs.Database!], storage.DataDir);
        Assert.True(exit == 0, $"{tool} failed: {stdout}{stderr}");
    }

    internal static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var into = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(into)!);
            File.Copy(file, into);
        }
    }
}

/// <summary>The refusals of <c>marquee backup</c>: a damaged backup, a data folder a server is using (a class of its own: it runs beside <see cref="BackupTests"/>).</summary>
public sealed class BackupRefusalTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Restore_refuses_a_damaged_backup_and_a_data_folder_a_server_is_using()
    {
        await using var storage = await TestStorage.CreateAsync();
        var env = storage.Environment();
        var root = Path.Combine(Path.GetTempPath(), "marquee-tests", "backup-" + Guid.NewGuid().ToString("N"));
        var good = Path.Combine(root, "good");
        var damaged = Path.Combine(root, "damaged");
        await using (var app = await MarqueeApp.StartAsync(storage: storage))
        {
            await app.ClientWithRolesAsync(); // an account, a session: something to back up

            // A server uses the data folder: neither a backup nor a restore runs.
            var (busy, _, busyError) = await MarqueeProcess.RunAsync(["backup", "create", "--to", good], env);
            Assert.Equal(3, busy);
            Assert.Contains("a server is using the data folder", busyError, StringComparison.Ordinal);
            Assert.False(Directory.Exists(good) && Directory.EnumerateFileSystemEntries(good).Any());
        }

        var (code, stdout, stderr) = await MarqueeProcess.RunAsync(["backup", "create", "--to", good], env);
        Assert.True(code == 0, stderr + stdout);
        BackupTests.CopyFolder(good, damaged);
        var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(good, "manifest.json")));
        var victim = manifest.RootElement.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("path").GetString()!).First(p => p.StartsWith("data/keys/", StringComparison.Ordinal));
        var bytes = await File.ReadAllBytesAsync(Path.Combine(damaged, victim));
        bytes[bytes.Length / 2] ^= 0x20;
        await File.WriteAllBytesAsync(Path.Combine(damaged, victim), bytes);

        var live = Path.Combine(storage.DataDir, victim["data/".Length..]);
        var liveBefore = await File.ReadAllBytesAsync(live);
        (code, _, stderr) = await MarqueeProcess.RunAsync(["backup", "restore", "--from", damaged], env);
        output.WriteLine("damaged: " + stderr);
        Assert.Equal(1, code);
        Assert.Equal($"marquee: the backup in {damaged} is damaged: {victim} does not match its checksum in manifest.json; nothing was restored.", stderr.Trim());
        Assert.Equal(liveBefore, await File.ReadAllBytesAsync(live));

        await using (var app = await MarqueeApp.StartAsync(storage: storage))
        {
            (code, _, stderr) = await MarqueeProcess.RunAsync(["backup", "restore", "--from", good], env);
            output.WriteLine("running server: " + stderr);
            Assert.Equal(3, code);
            Assert.Equal($"marquee: a server is using the data folder {storage.DataDir}: stop every server on it before restoring; nothing was restored.", stderr.Trim());
        }

        // While a backup or restore holds the folder, a server does not start (and does not migrate the database first).
        using (var held = Marquee.Platform.Hosting.DataFolderLock.TryExclusive(storage.DataDir))
        {
            Assert.NotNull(held);
            (code, _, stderr) = await MarqueeProcess.RunAsync(["serve", "--urls", "http://127.0.0.1:0"], env);
            output.WriteLine("serve during a restore: " + stderr);
            Assert.Equal(2, code);
            Assert.Contains($"marquee: The data folder {storage.DataDir} is held by 'marquee backup'", stderr, StringComparison.Ordinal);
        }

        // Control: the same restore with the server stopped goes through.
        (code, stdout, stderr) = await MarqueeProcess.RunAsync(["backup", "restore", "--from", good], env);
        output.WriteLine("stopped: " + stdout + stderr);
        Assert.True(code == 0, stderr + stdout);
        Directory.Delete(root, recursive: true);
    }
}
