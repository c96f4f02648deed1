using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Marquee.Billing;
using Marquee.Billing.Data;
using Marquee.Compliance;
using Marquee.Identity.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Web;
using Marquee.Tests.Billing;
using Marquee.Tests.Rights;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Marquee.Tests.Compliance;

/// <summary>
/// R32, privacy and erasure integrity: an account with data in every module that holds personal data is exported
/// (compared with an expected JSON written here by hand), erased, and then every table of every module and every file
/// of the data folder is searched for its identifiers; only the legally kept rows remain, under the pseudonym.
/// SQLite and PostgreSQL.
/// </summary>
public sealed partial class PrivacyTests(LoggedBillingApp fixture, ITestOutputHelper output) : IClassFixture<LoggedBillingApp>
{
    [Fact]
    public async Task Export_is_complete_and_after_erasure_nothing_of_the_account_remains_but_pseudonymised_ledger_and_audit()
    {
        var app = fixture.App;
        var person = await PersonAsync(app, withPurchase: true);

        // The export, normalised (generated ids and times by name), against the one written by hand.
        var export = await ExportWhenCompleteAsync(person);
        var expected = Expected(person);
        var actual = Normalise(export, person);
        output.WriteLine(actual.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Assert.True(JsonNode.DeepEquals(expected, actual), $"export differs; expected:\n{expected.ToJsonString()}\nactual:\n{actual.ToJsonString()}");

        var scan = PersonalDataScan.For(person.Id, person.Email, person.DisplayName, person.Phone, person.ProfileName);
        var before = await scan.ScanDatabaseAsync(app);
        Assert.NotEmpty(before.Found); // the scan sees the person before the erasure (it can fail)
        // The receipt, kept in the pickup folder (sent by Billing's handler of the payment, asynchronously).
        var filesBefore = await Poll.UntilAsync(() => Task.FromResult(scan.ScanFiles(app.DataDir)),
            f => f.Any(x => x.StartsWith("mail", StringComparison.Ordinal)), TimeSpan.FromSeconds(30), "the receipt in the mail pickup folder");
        output.WriteLine("files with identifiers before the erasure: " + string.Join(", ", filesBefore));
        Assert.Contains(filesBefore, f => f.StartsWith("analytics", StringComparison.Ordinal)); // the warehouse's files or the spool hold the person (the scan can fail)
        var ledgerBefore = await CountAsync(app, sp => sp.GetRequiredService<BillingDb>().Ledger.CountAsync());

        // Erasure by the holder, password re-confirmed: a wrong one is refused and changes nothing.
        var wrong = await person.Client.PostAsJsonAsync("/api/identity/erasure", new { password = "not the password" });
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await person.Client.GetAsync("/api/identity/me")).StatusCode);
        var erased = await person.Client.PostAsJsonAsync("/api/identity/erasure", new { password = person.Password });
        Assert.Equal(HttpStatusCode.NoContent, erased.StatusCode);
        await ErasureDeliveredAsync(app, person.Id);

        Assert.Equal(HttpStatusCode.Unauthorized, (await person.Client.GetAsync("/api/identity/me")).StatusCode);
        await Assert.ThrowsAsync<InvalidOperationException>(() => app.SignInAsync(person.Email, person.Password));

        var after = await scan.ScanDatabaseAsync(app);
        output.WriteLine($"scanned {after.Tables} tables, {after.Rows} rows; before the erasure {before.Found.Count} hits, after {after.Found.Count}");
        foreach (var hit in before.Found)
        {
            output.WriteLine("  before: " + hit);
        }

        Assert.True(after.Found.Count == 0, "left after the erasure:\n" + string.Join('\n', after.Found));

        // The legally kept rows are there, under the erasure's pseudonym (the same in Billing and in the audit log).
        var invoice = await CountAsync(app, async sp => await sp.GetRequiredService<BillingDb>().Invoices.AsNoTracking().SingleAsync(i => i.Number == person.InvoiceNumber));
        Assert.NotEqual(person.Id, invoice.AccountId);
        Assert.Equal(ledgerBefore, await CountAsync(app, sp => sp.GetRequiredService<BillingDb>().Ledger.CountAsync()));
        var pseudonym = $"erased:{invoice.AccountId:N}";
        var audit = await app.Client.GetFromJsonAsync<JsonElement>("/api/compliance/audit?action=compliance.subject-erased&take=1000");
        Assert.Contains(audit.EnumerateArray(), a => a.GetProperty("target").GetString() == $"subject:{pseudonym}");
        var redacted = await app.Client.GetFromJsonAsync<JsonElement>($"/api/compliance/audit?actor={Uri.EscapeDataString(pseudonym)}&take=1000");
        Assert.NotEmpty(redacted.EnumerateArray());

        // The data folder, byte by byte: nothing holds the person's identifiers after the erasure. Not the messages to them
        // in the mail pickup folder, not SQLite's file or WAL (secure delete, truncating checkpoint), not the analytics spool,
        // not DuckDB's warehouse file or WAL (rewritten after the pseudonymisation; the control below shows what it leaves).
        var files = scan.ScanFiles(app.DataDir);
        output.WriteLine("files with identifiers: " + string.Join(", ", files));
        Assert.Empty(files);

        // The logs (every line of every level and category, with structured values and scopes): no direct identifier.
        var logged = fixture.Logs!.Holding(person.DirectIdentifiers);
        Assert.True(logged.Count == 0, "log lines with the person's identifiers:\n" + string.Join('\n', logged));
    }

    [Fact]
    public async Task Logs_of_sign_up_checkout_playback_export_and_erasure_hold_no_direct_identifier_and_a_logged_email_is_found()
    {
        var app = fixture.App;
        var logs = fixture.Logs!;
        var before = logs.Lines.Count;
        var person = await PersonAsync(app, withPurchase: true, viaSignUp: true);
        // The paths that fail on the person's e-mail: a wrong password, a second sign-up with the address in another case.
        using (var failed = await app.AnonymousClient.PostAsJsonAsync("/api/identity/signin", new { email = person.Email, password = "not the password" }))
        {
            Assert.False(failed.IsSuccessStatusCode);
        }

        Assert.Equal(HttpStatusCode.Accepted, (await app.AnonymousClient.PostAsJsonAsync("/api/identity/signup",
            new { email = person.Email.ToUpperInvariant(), password = person.Password, acceptTerms = true, acceptPrivacy = true })).StatusCode);
        await ExportWhenCompleteAsync(person);
        Assert.Equal(HttpStatusCode.NoContent, (await person.Client.PostAsJsonAsync("/api/identity/erasure", new { password = person.Password })).StatusCode);
        await ErasureDeliveredAsync(app, person.Id);

        var lines = logs.Lines.Count - before;
        var withId = logs.Holding([person.Id.ToString(), person.Id.ToString("N")]);
        output.WriteLine($"{logs.Lines.Count} log lines captured ({lines} during this test, {logs.Lines.Select(l => l.Split(':')[0]).Distinct().Count()} level/category/event kinds); {withId.Count} with the account id");
        foreach (var line in withId.Take(20))
        {
            output.WriteLine("  id: " + line);
        }

        var found = logs.Holding(person.DirectIdentifiers);
        Assert.True(found.Count == 0, "log lines with the person's identifiers:\n" + string.Join('\n', found));

        // Negative control: the e-mail logged on purpose (upper case in the message, lower case in a scope) is found by the same scan.
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Marquee.Identity.Control");
        using (logger.BeginScope(new Dictionary<string, object?> { ["Subject"] = person.Email.ToLowerInvariant() }))
        {
            logger.LogDebug("Control line for {Who}", "nobody");
        }

        logger.LogInformation("Control line for {Email}", person.Email.ToUpperInvariant());
        Assert.Equal(2, logs.Holding(person.DirectIdentifiers).Count);
    }

    [Fact]
    public async Task With_one_module_eraser_switched_off_the_scan_finds_what_it_left()
    {
        // Negative controls: the same erasure on a host whose Compliance eraser is not registered, the table scan must fail;
        // and whose analytics warehouse is not rewritten after the pseudonymisation, the file scan must fail.
        await using var app = await MarqueeApp.StartAsync(configure: c => c["Marquee:Analytics:RewriteWarehouseOnErasure"] = "false", services: s =>
        {
            var off = s.Single(d => d.ServiceType == typeof(HandlerRegistration<Marquee.Identity.Contracts.AccountDeleted>)
                                    && ((HandlerRegistration<Marquee.Identity.Contracts.AccountDeleted>)d.ImplementationInstance!).HandlerType == typeof(CompliancePrivacy));
            s.Remove(off);
        });
        var email = $"control-{Guid.NewGuid():N}@example.com";
        var password = Marquee.Identity.Accounts.RandomPassword();
        var id = await app.CreateAccountAsync(email, password, [Roles.Viewer]);
        using var client = app.ClientWith(await app.SignInAsync(email, password));
        (await client.PutAsJsonAsync("/api/identity/profile", new { displayName = "Control Person" })).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/api/identity/deletion", new { password })).StatusCode); // a security event: an audit line with the e-mail
        await Poll.UntilAsync(() => app.Client.GetFromJsonAsync<JsonElement>($"/api/compliance/audit?actor={Uri.EscapeDataString(email)}"),
            a => a.GetArrayLength() > 0, TimeSpan.FromSeconds(30), "the audit line of the deletion request");
        var now = TimeProvider.System.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        (await app.AnonymousClient.PostAsJsonAsync("/api/analytics/events", new[]
        {
            new { id = "control-" + Guid.NewGuid().ToString("N"), type = "first_frame", time = now, user = id.ToString(), session = "s-control", title = Guid.NewGuid().ToString(), device = "web", ms = 800 },
        })).EnsureSuccessStatusCode();

        Assert.Equal(HttpStatusCode.NoContent, (await app.Client.PostAsync($"/api/identity/subjects/{id}/erasure", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await app.Client.PostAsync($"/api/identity/subjects/{id}/erasure", null)).StatusCode);
        await ErasureDeliveredAsync(app, id);

        var (found, _, _) = await PersonalDataScan.For(id, email, "Control Person").ScanDatabaseAsync(app);
        output.WriteLine(string.Join('\n', found));
        Assert.NotEmpty(found);
        Assert.All(found, f => Assert.Contains("compliance", f, StringComparison.Ordinal)); // the other modules did erase

        // The analytics rows are pseudonymised (the table scan found nothing there), but the warehouse's WAL or file keeps the old id.
        var files = PersonalDataScan.For(id, email, "Control Person").ScanFiles(app.DataDir);
        output.WriteLine("files with identifiers: " + string.Join(", ", files));
        Assert.Contains(files, f => Regex.IsMatch(f, @"^analytics[/\\]warehouse\.duckdb(\.wal)?$"));
    }

    [Fact]
    public async Task An_admin_exports_a_subject_like_the_subject_and_other_accounts_get_nothing_of_it()
    {
        var app = fixture.App;
        var person = await PersonAsync(app, withPurchase: false);
        // The same document both ways (polled: analytics events and audit lines arrive asynchronously between two reads).
        await Poll.UntilAsync(
            async () => (Own: Comparable(await person.Client.GetStringAsync("/api/identity/export")),
                         Admin: Comparable(await app.Client.GetStringAsync($"/api/identity/subjects/{person.Id}/export"))),
            pair => JsonNode.DeepEquals(pair.Own, pair.Admin), TimeSpan.FromSeconds(30), "the admin's export to equal the account's own");
        Assert.Equal(HttpStatusCode.NotFound, (await app.Client.GetAsync($"/api/identity/subjects/{Guid.NewGuid()}/export")).StatusCode);

        using var viewer = await app.ClientWithRolesAsync();
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.GetAsync($"/api/identity/subjects/{person.Id}/export")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsync($"/api/identity/subjects/{person.Id}/erasure", null)).StatusCode);
        var theirs = await viewer.GetStringAsync("/api/identity/export");
        Assert.DoesNotContain(person.Email, theirs, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(person.Id.ToString(), theirs, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.AnonymousClient.GetAsync("/api/identity/export")).StatusCode);
    }

    private static JsonNode Comparable(string json)
    {
        var export = JsonNode.Parse(json)!;
        export.AsObject().Remove("exportedAt");
        foreach (var session in export["identity"]!["sessions"]!.AsArray())
        {
            session!.AsObject().Remove("lastSeenAt"); // the viewer's own request refreshes it
        }

        return export;
    }

    internal sealed record Person(Guid Id, string Email, string Phone, string Password, string DisplayName, string ProfileName, Guid ProfileId, Guid TitleId, string Plan, string? InvoiceNumber, HttpClient Client)
    {
        /// <summary>What must never be in a log line: the e-mail (looked for in any case), the display name, the phone number, the profile's name.</summary>
        public string[] DirectIdentifiers => [Email, DisplayName, Phone, ProfileName];
    }

    /// <summary>An account with data everywhere: display name, phone, a profile, a subscription paid with the sandbox card, a playback session, two analytics events, audit lines.</summary>
    internal static async Task<Person> PersonAsync(MarqueeApp app, bool withPurchase, bool viaSignUp = false)
    {
        var email = $"privacy-{Guid.NewGuid():N}@example.com";
        var password = Marquee.Identity.Accounts.RandomPassword();
        Guid id;
        if (viaSignUp)
        {
            // The public sign-up: e-mail, password, consents; the code from the mail pickup folder.
            email = $"Privacy.SignUp-{Guid.NewGuid():N}@Example.com";
            Assert.Equal(HttpStatusCode.Accepted, (await app.AnonymousClient.PostAsJsonAsync("/api/identity/signup", new { email, password, acceptTerms = true, acceptPrivacy = true })).StatusCode);
            var code = await Marquee.Tests.Identity.SignUpAndSignInTests.CodeFromMailAsync(app, email);
            using var verifier = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = app.BaseAddress };
            var verified = await verifier.PostAsJsonAsync("/api/identity/signup/verify", new { email, code });
            Assert.Equal(HttpStatusCode.NoContent, verified.StatusCode);
            using var signedUp = app.ClientWith(MarqueeApp.SessionCookie(verified));
            id = (await signedUp.GetFromJsonAsync<JsonElement>("/api/identity/me")).GetProperty("id").GetGuid();
        }
        else
        {
            id = await app.CreateAccountAsync(email, password, [Roles.Viewer]);
        }

        var phone = $"+49 151 {Random.Shared.Next(10_000_000, 99_999_999)}";
        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<IdentityDb>();
            return await db.Accounts.Where(a => a.Id == id).ExecuteUpdateAsync(s => s.SetProperty(a => a.PhoneNumber, phone));
        });
        // Asking for deletion and cancelling it: two security events, so audit lines about the account.
        using (var first = app.ClientWith(await app.SignInAsync(email, password)))
        {
            Assert.Equal(HttpStatusCode.OK, (await first.PostAsJsonAsync("/api/identity/deletion", new { password })).StatusCode);
        }

        var client = app.ClientWith(await app.SignInAsync(email, password));
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync("/api/identity/deletion")).StatusCode);
        var unique = Guid.NewGuid().ToString("N")[..10]; // not the account id's prefix: version-7 ids of one test share it
        var displayName = $"Erin Privacy {unique}";
        (await client.PutAsJsonAsync("/api/identity/profile", new { displayName })).EnsureSuccessStatusCode();
        var profileName = $"Den {unique}";
        var profile = await (await client.PostAsJsonAsync("/api/identity/profiles", new { name = profileName, isKids = false, language = "de" })).JsonAsync(HttpStatusCode.Created);
        var title = await app.CreateTitleAsync("Privacy film");
        string? invoiceNumber = null;
        var plan = "p" + Guid.NewGuid().ToString("N")[..8];
        if (withPurchase)
        {
            await app.CreatePlanAsync(plan, "monthly", 1000);
            var paid = await (await client.PostKeyedAsync("/api/billing/checkout", new { plan, currency = "EUR", card = SandboxGateway.Success, country = "DE" }, "privacy-" + id)).JsonAsync(HttpStatusCode.Created);
            invoiceNumber = paid.GetProperty("invoiceNumber").GetString();
        }

        var session = await client.PostAsJsonAsync("/api/playback/sessions", new { titleId = title });
        Assert.True(session.StatusCode == HttpStatusCode.Created, await session.Content.ReadAsStringAsync());
        var now = TimeProvider.System.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        var events = new[]
        {
            new { id = "pv-1-" + unique, type = "first_frame", time = now, user = id.ToString(), session = "s-" + unique, title = title.ToString(), device = "web", ms = 900 },
            new { id = "pv-2-" + unique, type = "first_frame", time = now, user = id.ToString(), session = "s-" + unique, title = title.ToString(), device = "web", ms = 700 },
        };
        (await app.AnonymousClient.PostAsJsonAsync("/api/analytics/events", events)).EnsureSuccessStatusCode();
        return new Person(id, email, phone, password, displayName, profileName, profile.GetProperty("id").GetGuid(), title, plan, invoiceNumber, client);
    }

    /// <summary>The export once the asynchronous parts (audit lines, analytics from other modules' events) have arrived.</summary>
    internal static async Task<JsonObject> ExportWhenCompleteAsync(Person person) =>
        await Poll.UntilAsync(
            async () => JsonNode.Parse(await person.Client.GetStringAsync("/api/identity/export"))!.AsObject(),
            e => e["compliance"] is not null && e["analytics"]?["events"]?.AsArray().Count >= 2,
            TimeSpan.FromSeconds(30), "the export with audit lines and analytics events");

    /// <summary>Waits until every module has handled the account's erasure (its outbox message delivered, its payload blanked).</summary>
    internal static async Task ErasureDeliveredAsync(MarqueeApp app, Guid id) =>
        await Poll.UntilAsync(
            () => app.ScopedAsync(async sp => await sp.GetRequiredService<IdentityDb>().Set<OutboxMessage>().AsNoTracking()
                .Where(m => m.EventName == "identity.account-deleted.v1" && m.Payload.Contains(id.ToString())).CountAsync()),
            n => n == 0, TimeSpan.FromSeconds(30), "every module to handle the erasure");

    private static Task<T> CountAsync<T>(MarqueeApp app, Func<IServiceProvider, Task<T>> read) => app.ScopedAsync(read);

    /// <summary>The export as written by hand: what Marquee holds about this person, module by module.</summary>
    private static JsonNode Expected(Person p)
    {
        var today = TimeProvider.System.GetUtcNow();
        var period = $"{today:yyyy-MM-dd} to {today.AddMonths(1):yyyy-MM-dd}";
        return JsonNode.Parse($$"""
        {
          "accountId": "<account>",
          "exportedAt": "<time>",
          "analytics": { "events": "<checked apart>" },
          "billing": {
            "customer": { "email": "{{p.Email}}", "country": "DE", "createdAt": "<time>" },
            "subscriptions": [
              { "id": "<id>", "planId": "<id>", "status": "Active", "currency": "EUR", "currentPeriodStart": "<time>", "currentPeriodEnd": "<time>",
                "cancelAtPeriodEnd": false, "createdAt": "<time>", "endedAt": null }
            ],
            "invoices": [
              { "id": "<id>", "number": "{{p.InvoiceNumber}}", "kind": "Invoice", "status": "Paid", "purpose": "subscription", "currency": "EUR", "country": "DE",
                "taxRate": 0.19, "net": 1000, "discount": 0, "tax": 190, "total": 1190, "issuedAt": "<time>", "paidAt": "<time>",
                "lines": [ { "description": "Plan {{p.Plan}} (monthly), {{period}}" }, { "description": "Tax DE 19 %" } ] }
            ],
            "payments": [ { "id": "<id>", "invoiceId": "<id>", "amount": 1190, "currency": "EUR", "status": "Succeeded", "createdAt": "<time>", "settledAt": "<time>" } ],
            "titleGrants": [],
            "couponRedemptions": []
          },
          "compliance": { "auditLines": "<checked apart>" },
          "delivery": {
            "playbackSessions": [
              { "id": "<id>", "titleId": "<title>", "profileId": "<account>", "platform": "Web", "maxHeight": null, "withAds": false,
                "createdAt": "<time>", "lastHeartbeatAt": "<time>", "positionSeconds": null, "endedAt": null, "endReason": null }
            ]
          },
          "identity": {
            "account": { "id": "<account>", "email": "{{p.Email}}", "emailConfirmed": true, "displayName": "{{p.DisplayName}}", "phoneNumber": "{{p.Phone}}",
                         "createdAt": "<time>", "twoFactor": false, "deletionRequestedAt": null, "deleteAfter": null },
            "consents": { "terms": { "version": null, "acceptedAt": null }, "privacy": { "version": null, "acceptedAt": null } },
            "roles": [ "viewer" ],
            "profiles": [ { "id": "<profile>", "name": "{{p.ProfileName}}", "isKids": false, "maturityLimit": null, "hasPin": false, "language": "de", "createdAt": "<time>" } ],
            "sessions": [
              { "id": "<id>", "device": "<device>", "ip": "127.0.0.1", "country": null, "method": "pwd", "createdAt": "<time>", "lastSeenAt": "<time>", "revokedAt": "<time>" },
              { "id": "<id>", "device": "<device>", "ip": "127.0.0.1", "country": null, "method": "pwd", "createdAt": "<time>", "lastSeenAt": "<time>", "revokedAt": null }
            ],
            "passkeys": [],
            "signUpChecks": []
          }
        }
        """)!;
    }

    /// <summary>
    /// Generated ids and times replaced by placeholders (the account, title and profile by name), the analytics events
    /// and audit lines checked here and replaced by a placeholder (their number and content depend on timing).
    /// </summary>
    private static JsonNode Normalise(JsonObject export, Person p)
    {
        // Analytics: the two beacon events as sent, and the other modules' events about this account.
        var events = export["analytics"]!["events"]!.AsArray();
        Assert.Equal(2, events.Count(e => e!["type"]!.GetValue<string>() == "first_frame" && e["user"]!.GetValue<string>() == p.Id.ToString()));
        Assert.All(events, e => Assert.Equal(p.Id.ToString(), e!["user"]!.GetValue<string>()));
        export["analytics"]!["events"] = "<checked apart>";

        // Compliance: the audit lines name the account (target) or are done by it (actor), and nothing else.
        var lines = export["compliance"]!["auditLines"]!.AsArray();
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.True(l!["target"]!.GetValue<string>() == $"account:{p.Id}" || l["actor"]!.GetValue<string>() == p.Email, l.ToJsonString()));
        export["compliance"]!["auditLines"] = "<checked apart>";

        // Identity: the sessions' device summary depends on the client's user agent.
        foreach (var s in export["identity"]!["sessions"]!.AsArray())
        {
            s!["device"] = "<device>";
        }

        return Replace(export, p);
    }

    private static JsonNode Replace(JsonNode node, Person p)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var key in o.Select(kv => kv.Key).ToList())
                {
                    if (o[key] is { } child)
                    {
                        o[key] = Replace(child.DeepClone(), p);
                    }
                }

                return o;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    if (a[i] is { } child)
                    {
                        a[i] = Replace(child.DeepClone(), p);
                    }
                }

                return a;
            case JsonValue v when v.TryGetValue<string>(out var s):
                if (Guid.TryParse(s, out var g))
                {
                    return g == p.Id ? "<account>" : g == p.TitleId ? "<title>" : g == p.ProfileId ? "<profile>" : "<id>";
                }

                return Timestamp().IsMatch(s) ? "<time>" : v;
            default:
                return node;
        }
    }

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")]
    private static partial Regex Timestamp();
}
