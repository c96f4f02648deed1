using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Tests.Support;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Xunit.Abstractions;

namespace Marquee.Tests.Resilience;

/// <summary>
/// R4: the data folder on a real, small file system (a tmpfs mounted by the test; the suite runs as root in CI), filled
/// to the last byte while a client creates titles. Every write answers 201 or 503 problem details with
/// <c>Retry-After</c> (never a 500); <c>/health/ready</c> says <c>Degraded</c> while full; once space is freed writes
/// succeed again, the outbox drains (every title audited exactly once, nothing acknowledged lost) and SQLite's
/// <c>PRAGMA integrity_check</c> is <c>ok</c>. The negative control runs the same harness on a host without the
/// storage-fault handler: it answers 500 and the harness says so.
/// </summary>
[Trait("Category", "Resilience")]
[Collection("Media")] // fills a disk and loads a host: not beside the heavy media tests
public sealed class DiskFullTests(ITestOutputHelper output)
{
    [Fact]
    public async Task DiskFull_WritesAnswer503AndHealthIsDegraded_ThenDrainUncorruptedOnceSpaceIsFreed()
    {
        var run = await RunAsync("Full", withoutFaultHandler: false);
        output.WriteLine(run.Summary);
        Assert.True(run.Violations.Count == 0, string.Join('\n', run.Violations));
    }

    [Fact]
    public async Task NegativeControl_WithoutTheStorageFaultHandler_TheHarnessFails()
    {
        var run = await RunAsync("Unhandled", withoutFaultHandler: true);
        output.WriteLine(run.Summary);
        Assert.Contains(run.Violations, v => v.Contains("answered 500", StringComparison.Ordinal));
    }

    /// <summary>The corruption probe can fail: a copy of a database with one page overwritten is not <c>ok</c>.</summary>
    [Fact]
    public async Task NegativeControl_IntegrityCheck_OfADamagedDatabase_IsNotOk()
    {
        var folder = Path.Combine(Path.GetTempPath(), "marquee-tests", "damaged-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var file = Path.Combine(folder, "marquee.db");
            File.Copy(await MigratedTemplate.SqliteFileAsync(), file);
            Assert.Equal("ok", await IntegrityAsync(file));
            await using (var stream = new FileStream(file, FileMode.Open, FileAccess.Write))
            {
                stream.Seek(stream.Length / 2 / 4096 * 4096, SeekOrigin.Begin); // a page in the middle: b-tree pages of some table
                await stream.WriteAsync(Enumerable.Repeat((byte)0x5A, 4096).ToArray());
            }

            Assert.NotEqual("ok", await IntegrityAsync(file));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    private sealed record Run(List<string> Violations, string Summary);

    private static async Task<Run> RunAsync(string prefix, bool withoutFaultHandler)
    {
        var violations = new List<string>();
        var mount = Path.Combine(Path.GetTempPath(), "marquee-tests", "diskfull-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(mount);
        // A real file system of 48 MiB: writes fail with ENOSPC exactly as on a full disk. Needs root (CI runs as root);
        // without it the test fails with the reason rather than skipping.
        await RunToolAsync("mount", "-t", "tmpfs", "-o", "size=48m,mode=0755", "tmpfs", mount);
        var filler = Path.Combine(mount, "filler");
        int created = 0, refused = 0, afterwards = 0;
        string healthFull = "", healthFreed = "";
        var acknowledged = new List<Guid>();
        try
        {
            File.Copy(await MigratedTemplate.SqliteFileAsync(), Path.Combine(mount, "marquee.db"));
            await using (var app = await MarqueeApp.StartAsync(
                             s =>
                             {
                                 s["Marquee:DataDir"] = mount;
                                 s["Marquee:Database:Provider"] = "Sqlite";
                                 s["ConnectionStrings:Marquee"] = null;
                                 s["Marquee:MinFreeDiskMb"] = "2";
                                 s["Marquee:Media:MinFreeDiskMb"] = "2"; // the media store shares the 48 MiB data disk here
                                 s["Marquee:Events:MaxRetryDelay"] = "00:00:00.500";
                                 // No short outbox lease: a delivery whose outcome could not be written while the disk was
                                 // full has its lease released by the dispatcher's next pass (the default 2 min lease holds).
                                 s["Marquee:Events:MaxAttempts"] = "100";
                             },
                             withoutFaultHandler ? s => s.RemoveAll<IExceptionHandler>() : null))
            {
                var client = app.Client;
                var n = 0;
                async Task<HttpStatusCode> CreateAsync()
                {
                    var response = await client.PostAsJsonAsync("/api/catalog/titles", new { name = $"{prefix} {++n}", kind = "Film" });
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        acknowledged.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
                    }
                    else if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                    {
                        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json" || response.Headers.RetryAfter is null)
                        {
                            violations.Add($"write {n}: 503 without problem details or Retry-After");
                        }
                    }
                    else
                    {
                        var body = await response.Content.ReadAsStringAsync();
                        violations.Add($"write {n} answered {(int)response.StatusCode}: {body[..Math.Min(body.Length, 200)]}");
                    }

                    return response.StatusCode;
                }

                // With room: writes succeed and health is Healthy.
                for (var i = 0; i < 5; i++)
                {
                    Assert.Equal(HttpStatusCode.Created, await CreateAsync());
                }

                Assert.Equal("Healthy", await HealthAsync(app.AnonymousClient));

                // Fill the disk to its last byte.
                await using (var fill = new FileStream(filler, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None))
                {
                    foreach (var chunk in new[] { 1 << 20, 4096, 1 })
                    {
                        var buffer = new byte[chunk];
                        try
                        {
                            while (true)
                            {
                                fill.Write(buffer);
                            }
                        }
                        catch (IOException) // ENOSPC: full at this granularity; go on with smaller writes
                        {
                        }
                    }
                }

                // Full: every write is 201 (it fitted in space SQLite already had) or 503; bounded.
                for (int i = 0, failed = 0; i < 60 && failed < 5; i++)
                {
                    switch (await CreateAsync())
                    {
                        case HttpStatusCode.Created: created++; break;
                        case HttpStatusCode.ServiceUnavailable: refused++; failed++; break;
                        default: failed++; break;
                    }
                }

                healthFull = await HealthAsync(app.AnonymousClient);
                if (refused == 0 && !violations.Any(v => v.Contains("answered 500", StringComparison.Ordinal)))
                {
                    violations.Add("the disk never filled: no write was refused (the harness did not test anything)");
                }

                if (healthFull != "Degraded")
                {
                    violations.Add($"health while full was {healthFull}, not Degraded");
                }

                // Freed: writes succeed again, health recovers, the outbox drains.
                File.Delete(filler);
                healthFreed = await HealthAsync(app.AnonymousClient);
                for (var i = 0; i < 5; i++)
                {
                    if (await CreateAsync() == HttpStatusCode.Created)
                    {
                        afterwards++;
                    }
                    else
                    {
                        violations.Add($"a write after space was freed was refused");
                    }
                }

                try
                {
                    var (titles, audited) = await Poll.UntilAsync(
                        async () => (await WrittenTitles.ListAsync(client, prefix + " "), await WrittenTitles.AuditedAsync(client)),
                        s => WrittenTitles.Verify(acknowledged, s.Item1, s.Item2).Count == 0, TimeSpan.FromSeconds(30), "the outbox to drain");
                    _ = (titles, audited);
                }
                catch (TimeoutException)
                {
                    violations.AddRange(WrittenTitles.Verify(acknowledged, await WrittenTitles.ListAsync(client, prefix + " "), await WrittenTitles.AuditedAsync(client)));
                }
            }

            SqliteConnection.ClearAllPools();
            var integrity = await IntegrityAsync(Path.Combine(mount, "marquee.db"));
            if (integrity != "ok")
            {
                violations.Add($"PRAGMA integrity_check: {integrity}");
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            await RunToolAsync("umount", "-l", mount);
            Directory.Delete(mount);
        }

        return new Run(violations, $"R4 ({prefix}): 5 writes with room, then disk full: {created} written into space SQLite had, {refused} refused; " +
                                   $"health full {healthFull}, after freeing {healthFreed}; {afterwards} of 5 writes after freeing; {acknowledged.Count} acknowledged; {violations.Count} violations");
    }

    private static async Task<string> HealthAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/health/ready");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString()!;
    }

    private static async Task<string> IntegrityAsync(string file)
    {
        await using var db = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
        await db.OpenAsync();
        await using var check = db.CreateCommand();
        check.CommandText = "PRAGMA integrity_check";
        return (string?)await check.ExecuteScalarAsync() ?? "no answer";
    }

    internal static async Task RunToolAsync(string tool, params string[] arguments)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{tool} did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stderr}" +
                                                (tool == "mount" ? " (R4 mounts a small tmpfs as the data folder's disk: run the test as root)" : ""));
        }
    }
}
