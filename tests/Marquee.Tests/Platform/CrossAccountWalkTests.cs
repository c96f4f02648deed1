using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.Identity;
using Marquee.Identity.Data;
using Marquee.Media.Contracts;
using Marquee.Platform.Web;
using Marquee.Tests.Support;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Platform;

/// <summary>
/// R18, viewer B on viewer A's objects: every route of the running app (its endpoint data source, not a hand-kept list)
/// is called by viewer B with every method it accepts, each route parameter filled with one of viewer A's objects of
/// that kind (or a public object, for routes about the catalogue). A route whose parameter the table cannot fill fails
/// the walk, so that a new route cannot slip through unmapped. B must be refused (403/404) on A's objects, no answer to
/// B may carry A's identifiers, e-mail or names (lists and search included), and A's objects must read the same
/// afterwards. Operator routes are left to <see cref="EndpointAuthorizationTests"/>.
/// </summary>
public sealed class CrossAccountWalkTests(CrossAccountWorld world, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<CrossAccountWorld>
{
    [Fact]
    public async Task EveryRoute_WhenViewerBCallsItWithViewerAsObjects_IsRefusedLeaksNothingAndChangesNothing()
    {
        var endpoints = EndpointAuthorizationTests.Endpoints(world.App)
            .Where(e => !EndpointAuthorizationTests.IsFrameworkInfrastructure(e) && !EndpointAuthorizationTests.IsOperatorOnly(e))
            .Where(e => e.Metadata.GetMetadata<BrokenForTheWalk>() is null)
            .ToList();
        var before = await world.SnapshotAsync();

        var walk = await world.WalkAsync(endpoints);

        var after = await world.SnapshotAsync();
        output.WriteLine($"{endpoints.Count} routes, {walk.Calls} calls as B, {walk.OwnedCalls} on A's objects; answers on A's objects: "
                         + string.Join(", ", walk.OwnedStatuses.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key} x{s.Value}")));
        Assert.True(walk.Problems.Count == 0, $"{walk.Problems.Count} problems in {walk.Calls} calls:\n" + string.Join("\n", walk.Problems));
        Assert.Equal(before, after);
        // Every kind of A's objects was tried, on every route that takes one.
        Assert.Equal(CrossAccountWorld.OwnedKinds.Order(), walk.OwnedKindsUsed.Order());
        Assert.True(walk.OwnedCalls >= 20, $"only {walk.OwnedCalls} calls on A's objects");
        Assert.True(walk.Calls >= 100, $"only {walk.Calls} calls");
    }

    [Fact]
    public async Task Walk_OverDeliberatelyBrokenRoutes_FindsEachFault()
    {
        // The negative control: the same walker over three test-only routes with the faults it is there to find.
        var broken = EndpointAuthorizationTests.Endpoints(world.App).Where(e => e.Metadata.GetMetadata<BrokenForTheWalk>() is not null).ToList();
        Assert.Equal(3, broken.Count);
        var before = await world.SnapshotAsync();

        var walk = await world.WalkAsync(broken);

        var after = await world.SnapshotAsync();
        // No ownership check: B reads A's profile (a 200, and A's profile name in the answer).
        Assert.Contains(walk.Problems, p => p.StartsWith("GET /api/test-broken/profiles/", StringComparison.Ordinal) && p.Contains("answered 200", StringComparison.Ordinal));
        Assert.Contains(walk.Problems, p => p.StartsWith("GET /api/test-broken/profiles/", StringComparison.Ordinal) && p.Contains("carries A's", StringComparison.Ordinal));
        // A list without an owner filter: a 200 is right for a list, A's names in it are not.
        Assert.Contains(walk.Problems, p => p.StartsWith("GET /api/test-broken/profile-names", StringComparison.Ordinal) && p.Contains("carries A's", StringComparison.Ordinal));
        // A change without an ownership check that answers 404 anyway: only re-reading A's objects shows it.
        Assert.False(walk.Problems.Any(p => p.StartsWith("POST /api/test-broken/profiles/", StringComparison.Ordinal)), string.Join("\n", walk.Problems));
        Assert.NotEqual(before, after);
        await world.RestoreProfilesAsync();
        Assert.Equal(before, await world.SnapshotAsync());
    }
}

/// <summary>Marks the test-only routes with a deliberate fault (the walk's negative control).</summary>
internal sealed class BrokenForTheWalk;

/// <summary>The walk's outcome: every problem found (one line each, the route named), and what was called.</summary>
internal sealed record WalkReport(List<string> Problems, int Calls, int OwnedCalls, HashSet<string> OwnedKindsUsed, Dictionary<string, int> OwnedStatuses);

/// <summary>
/// One host with viewer A owning one of everything a viewer can own that the API names by id, and viewer B who walks.
/// </summary>
public sealed partial class CrossAccountWorld : IAsyncLifetime
{
    /// <summary>The kinds of A's objects that routes take by id (the walk must try each).</summary>
    internal static readonly string[] OwnedKinds = ["profile", "device-session", "passkey", "playback-session", "playback-token", "payment", "gateway-charge"];

    private const string PlanCode = "walk";
    private readonly HlsStub package = new();
    private MarqueeApp? app;

    internal MarqueeApp App => app ?? throw new InvalidOperationException("not started");

    private Guid titleId;
    private string titleSlug = "";
    private Guid aId;
    private string aEmail = "";
    private string aName = "";
    private HttpClient aClient = null!;
    private HttpClient aSecondDevice = null!;
    private readonly List<(Guid Id, string Name, bool Kids)> aProfiles = [];
    private readonly List<Guid> aDeviceSessions = [];
    private string aPasskeyId = "";
    private string aPasskeyName = "";
    private Guid aPlayback;
    private string aToken = "";
    private readonly List<Guid> aPayments = [];
    private string aCharge = "";
    private readonly List<string> aInvoiceIdentifiers = [];
    private const string ACheckoutKey = "walk-a-checkout";
    private const string ARentKey = "walk-a-rent";

    private string bEmail = "";
    private string bPassword = "";
    private HttpClient bClient = null!;
    private string bCookie = "";
    private (string Cookie, string Token)? bForm;
    private HttpClient? bPages;

    public async Task InitializeAsync()
    {
        await package.InitializeAsync();
        app = await MarqueeApp.StartAsync(
            c =>
            {
                c["Marquee:Identity:MaxConcurrentStreams"] = "100";
                c["Marquee:Delivery:HeartbeatTimeout"] = "01:00:00"; // A's playback session stays live through the walk
                c["Marquee:Billing:RequireEntitlement"] = "false";
            },
            services => services.AddSingleton<IMediaPackages>(new AnyTitle(package)),
            endpoints: MapBrokenVariants);

        // The operator's side: a title with a rental price, a plan.
        var title = await Json(await App.Client.PostAsJsonAsync("/api/catalog/titles", new { name = "Walk film", kind = "Film" }), HttpStatusCode.Created);
        titleId = title.GetProperty("id").GetGuid();
        titleSlug = title.GetProperty("slug").GetString()!;
        await Json(await App.Client.PostAsJsonAsync("/api/billing/plans", new { code = PlanCode, name = "Walk plan", period = "Monthly", prices = new Dictionary<string, long> { ["EUR"] = 999 }, maxHeight = 1080, streams = 4 }), HttpStatusCode.Created);
        var offer = await App.Client.PutAsJsonAsync($"/api/billing/titles/{titleId}/offer", new { free = false, currency = "EUR", rentalPrice = 299, purchasePrice = 999 });
        Assert.True(offer.IsSuccessStatusCode, await offer.Content.ReadAsStringAsync());

        // Viewer A: two signed-in devices, a display name, two profiles (one for kids, with a PIN), a passkey, a playback
        // session, a subscription paid by card (a payment, an invoice), and a rental waiting on 3-D Secure (a payment
        // and a gateway charge with a challenge page).
        var tag = Guid.NewGuid().ToString("N")[..10];
        aEmail = $"walk-a-{tag}@marquee.test";
        var aPassword = Accounts.RandomPassword();
        aId = await App.CreateAccountAsync(aEmail, aPassword, [Roles.Viewer]);
        aClient = App.ClientWith(await App.SignInAsync(aEmail, aPassword));
        aSecondDevice = App.ClientWith(await App.SignInAsync(aEmail, aPassword));
        aName = $"Alice Walk{tag}";
        Assert.Equal(HttpStatusCode.NoContent, (await aClient.PutAsJsonAsync("/api/identity/profile", new { displayName = aName })).StatusCode);
        foreach (var (name, kids) in new[] { ($"Alicemain{tag}", false), ($"Alicekids{tag}", true) })
        {
            var profile = await Json(await aClient.PostAsJsonAsync("/api/identity/profiles", new { name, isKids = kids, pin = kids ? "1234" : null }), HttpStatusCode.Created);
            aProfiles.Add((profile.GetProperty("id").GetGuid(), name, kids));
        }

        var sessions = await aClient.GetFromJsonAsync<JsonElement>("/api/identity/sessions");
        aDeviceSessions.AddRange(sessions.EnumerateArray().Select(s => s.GetProperty("id").GetGuid()));
        Assert.True(aDeviceSessions.Count >= 2, sessions.ToString());

        aPasskeyName = $"Alicekey{tag}";
        var credential = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        aPasskeyId = Microsoft.AspNetCore.WebUtilities.WebEncoders.Base64UrlEncode(credential);
        await App.ScopedAsync<bool>(async sp =>
        {
            var users = sp.GetRequiredService<UserManager<Account>>();
            var account = (await users.FindByIdAsync(aId.ToString()))!;
            var added = await users.AddOrUpdatePasskeyAsync(account, new UserPasskeyInfo(
                credential, System.Security.Cryptography.RandomNumberGenerator.GetBytes(77), DateTimeOffset.UnixEpoch, 0, ["internal"], true, false, false, [1], [1]) { Name = aPasskeyName });
            return added.Succeeded ? true : throw new InvalidOperationException(string.Join(", ", added.Errors.Select(e => e.Description)));
        });

        var playback = await Json(await aClient.PostAsJsonAsync("/api/playback/sessions", new { titleId }), HttpStatusCode.Created);
        aPlayback = playback.GetProperty("sessionId").GetGuid();
        var manifest = playback.GetProperty("manifestUrl").GetString()!;
        aToken = manifest.Split('/')[^2];
        Assert.Equal(HttpStatusCode.OK, (await aClient.GetAsync(manifest)).StatusCode);

        var checkout = await Json(await PostKeyedAsync(aClient, "/api/billing/checkout", new { plan = PlanCode, currency = "EUR", card = Marquee.Billing.SandboxGateway.Success, country = "DE" }, ACheckoutKey), HttpStatusCode.Created);
        aPayments.Add(checkout.GetProperty("paymentId").GetGuid());
        var rental = await Json(await PostKeyedAsync(aClient, $"/api/billing/titles/{titleId}/rent", new { card = Marquee.Billing.SandboxGateway.ThreeDSecure, country = "DE" }, ARentKey), HttpStatusCode.Accepted);
        aPayments.Add(rental.GetProperty("paymentId").GetGuid());
        aCharge = rental.GetProperty("redirect").GetString()!.Split('/')[^1];
        Assert.StartsWith("ch_", aCharge, StringComparison.Ordinal);
        Assert.Contains("challenge-confirm", await aClient.GetStringAsync($"/billing/sandbox/3ds/{aCharge}"), StringComparison.Ordinal);
        foreach (var invoice in (await aClient.GetFromJsonAsync<JsonElement>("/api/billing/invoices/mine")).EnumerateArray())
        {
            aInvoiceIdentifiers.Add(invoice.GetProperty("id").GetString()!);
            aInvoiceIdentifiers.Add(invoice.GetProperty("number").GetString()!);
        }

        Assert.NotEmpty(aInvoiceIdentifiers);

        // Viewer B: an ordinary viewer of the same service.
        bEmail = $"walk-b-{tag}@marquee.test";
        bPassword = Accounts.RandomPassword();
        await App.CreateAccountAsync(bEmail, bPassword, [Roles.Viewer]);
        await SignInBAsync();
    }

    public async Task DisposeAsync()
    {
        if (app is not null)
        {
            await app.DisposeAsync();
        }

        await package.DisposeAsync();
        bPages?.Dispose();
    }

    private async Task SignInBAsync()
    {
        bCookie = await App.SignInAsync(bEmail, bPassword);
        bClient = App.ClientWith(bCookie);
        bForm = null;
    }

    /// <summary>What may never reach B: A's identifiers, e-mail and names.</summary>
    private IEnumerable<string> Secrets()
    {
        yield return aId.ToString();
        yield return aId.ToString("N");
        yield return aEmail;
        yield return aName;
        foreach (var p in aProfiles)
        {
            yield return p.Id.ToString();
            yield return p.Name;
        }

        foreach (var s in aDeviceSessions)
        {
            yield return s.ToString();
        }

        yield return aPasskeyId;
        yield return aPasskeyName;
        yield return aPlayback.ToString();
        yield return aToken;
        foreach (var p in aPayments)
        {
            yield return p.ToString();
        }

        yield return aCharge;
        foreach (var i in aInvoiceIdentifiers)
        {
            yield return i;
        }
    }

    /// <summary>A route parameter's value: A's object of its kind, or a public object anyone may read.</summary>
    private sealed record Arg(string Value, string? OwnedKind);

    /// <summary>
    /// The table from a route's text up to a parameter (constraints dropped) to the values the walk puts there. A
    /// parameter with no entry fails the walk: a new route must be added here, saying whose object it takes.
    /// </summary>
    private Dictionary<string, Arg[]> Table()
    {
        Arg[] Owned(string kind, IEnumerable<string> values) => [.. values.Select(v => new Arg(v, kind))];
        Arg[] Public(string value) => [new Arg(value, null)];
        return new Dictionary<string, Arg[]>(StringComparer.Ordinal)
        {
            // A's objects.
            ["/api/identity/profiles/{id}"] = Owned("profile", aProfiles.Select(p => p.Id.ToString())),
            ["/api/identity/sessions/{id}"] = Owned("device-session", aDeviceSessions.Select(s => s.ToString())),
            ["/api/identity/passkeys/{id}"] = Owned("passkey", [aPasskeyId]),
            ["/api/playback/sessions/{id}"] = Owned("playback-session", [aPlayback.ToString()]),
            // The media token is the capability itself (players send no cookies): whoever holds A's token plays A's
            // session, by design, as with any signed URL. What B can do is alter one: a token changed by one character.
            ["/api/playback/s/{token}"] = Owned("playback-token", [Tampered(aToken)]),
            ["/api/playback/s/{token}/{path}"] = Public("360p/index.m3u8"),
            ["/api/billing/payments/{id}"] = Owned("payment", aPayments.Select(p => p.ToString())),
            ["/billing/sandbox/3ds/{ChargeId}"] = Owned("gateway-charge", [aCharge]),
            // Public objects: the catalogue's title (and its offer), its genre, a plan, an external provider's name.
            ["/api/catalog/titles/{id}"] = Public(titleId.ToString()),
            ["/api/billing/titles/{id}"] = Public(titleId.ToString()),
            ["/watch/{Id}"] = Public(titleId.ToString()),
            ["/rent/{TitleId}"] = Public(titleId.ToString()),
            ["/buy/{TitleId}"] = Public(titleId.ToString()),
            ["/title/{Slug}"] = Public(titleSlug),
            ["/posters/{slug}"] = Public(titleSlug),
            ["/api/catalog/genres/{slug}"] = Public("drama"),
            ["/genres/{Slug}"] = Public("drama"),
            ["/checkout/{Plan}"] = Public(PlanCode),
            ["/signin/external/{name}"] = Public("example"),
            // The negative control's routes (test-only, see MapBrokenVariants).
            ["/api/test-broken/profiles/{id}"] = Owned("profile", aProfiles.Select(p => p.Id.ToString())),
        };
    }

    /// <summary>Bodies that get past validation, so that the ownership check is what answers ("METHOD route").</summary>
    private Dictionary<string, object> Bodies() => new(StringComparer.Ordinal)
    {
        ["PUT /api/identity/profiles/{id}"] = new { name = "Taken by B", isKids = false, maturityLimit = 18, pin = "", language = "fr" },
        ["POST /api/identity/profiles/{id}/select"] = new { pin = "1234" }, // B even knows the kids profile's PIN
        ["PUT /api/identity/passkeys/{id}/name"] = new { name = "Taken by B" },
        ["POST /api/playback/sessions/{id}/heartbeat"] = new { position = 42 },
        ["POST /api/playback/sessions/{id}/end"] = new { position = 42 },
        ["POST /api/playback/sessions"] = new { titleId },
        ["POST /api/identity/profiles"] = new { name = "B's own" },
        ["POST /api/billing/checkout"] = new { plan = PlanCode, currency = "EUR", card = Marquee.Billing.SandboxGateway.Success, country = "DE" },
        ["POST /api/billing/titles/{id}/rent"] = new { card = Marquee.Billing.SandboxGateway.Success, country = "DE" },
        ["POST /api/billing/titles/{id}/buy"] = new { card = Marquee.Billing.SandboxGateway.Success, country = "DE" },
        ["POST /api/billing/subscription/plan"] = new { plan = PlanCode },
        ["POST /api/billing/subscription/payment-method"] = new { card = Marquee.Billing.SandboxGateway.Success },
        ["POST /api/test-broken/profiles/{id}/language"] = new { language = "de" },
    };

    /// <summary>Form fields of page posts (B's antiforgery token is added): the form that acts on the route's object.</summary>
    private static readonly Dictionary<string, Dictionary<string, string>> PageForms = new(StringComparer.Ordinal)
    {
        ["/billing/sandbox/3ds/{ChargeId}"] = new() { ["_handler"] = "challenge", ["Answer.Confirm"] = "true" },
    };

    /// <summary>
    /// Answers other than 403/404 that a stranger deliberately gets on a route that takes A's object, each with its reason.
    /// </summary>
    private static readonly Dictionary<string, int> Deliberate = new(StringComparer.Ordinal)
    {
        // A CORS preflight is answered for any path, without reading the token (the GET that follows checks it).
        ["OPTIONS /api/playback/s/{token}/{path}"] = 204,
        // The page of another account's charge is the not-found page, which has no form: Blazor refuses a post to a
        // form the page did not render before any handler runs (the charge itself is re-read in A's snapshot).
        ["POST /billing/sandbox/3ds/{ChargeId}"] = 400,
    };

    /// <summary>Query strings for list and search routes: B looks for A by name.</summary>
    private Dictionary<string, string> Queries() => new(StringComparer.Ordinal)
    {
        ["/api/catalog/search"] = "?q=" + Uri.EscapeDataString(aName),
        ["/search"] = "?q=" + Uri.EscapeDataString(aName),
    };

    private static string Tampered(string token)
    {
        var i = token.Length / 2;
        return string.Concat(token.AsSpan(0, i), token[i] == 'A' ? "B" : "A", token.AsSpan(i + 1));
    }

    [GeneratedRegex(@"\{\*{0,2}([A-Za-z_][A-Za-z0-9_]*)[^}]*\}")]
    private static partial Regex ParameterRegex();

    /// <summary>The route's text with constraints, catch-all stars and optional marks dropped, starting with '/'.</summary>
    private static string Normalized(RouteEndpoint e)
    {
        var raw = ParameterRegex().Replace(e.RoutePattern.RawText ?? "", m => "{" + m.Groups[1].Value + "}");
        return raw.StartsWith('/') ? raw : "/" + raw;
    }

    internal async Task<WalkReport> WalkAsync(IReadOnlyList<RouteEndpoint> endpoints)
    {
        var table = Table();
        var bodies = Bodies();
        var queries = Queries();
        var secrets = Secrets().Where(s => s.Length >= 6).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var problems = new List<string>();
        var calls = 0;
        var ownedCalls = 0;
        var kinds = new HashSet<string>(StringComparer.Ordinal);
        var statuses = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var endpoint in endpoints.OrderBy(e => e.RoutePattern.RawText, StringComparer.Ordinal))
        {
            var route = Normalized(endpoint);
            // Each parameter's values, looked up by the route's text up to and including it.
            var choices = new List<(string Name, Arg[] Args)>();
            foreach (var parameter in endpoint.RoutePattern.Parameters)
            {
                var marker = "{" + parameter.Name + "}";
                var key = route[..(route.IndexOf(marker, StringComparison.Ordinal) + marker.Length)];
                if (!table.TryGetValue(key, out var args))
                {
                    problems.Add($"{route}: no value for {marker} (add '{key}' to the walk's table, saying whose object it takes)");
                    choices.Clear();
                    break;
                }

                choices.Add((parameter.Name, args));
            }

            if (endpoint.RoutePattern.Parameters.Count > 0 && choices.Count == 0)
            {
                continue;
            }

            IEnumerable<List<(string Name, Arg Arg)>> combinations = [[]];
            foreach (var (name, args) in choices)
            {
                combinations = [.. combinations.SelectMany(c => args.Select(a => new List<(string, Arg)>(c) { (name, a) }))];
            }

            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            foreach (var combination in combinations)
            {
                var path = route;
                foreach (var (name, arg) in combination)
                {
                    path = path.Replace("{" + name + "}", name == "path" ? arg.Value : Uri.EscapeDataString(arg.Value), StringComparison.Ordinal);
                }

                var owned = combination.Where(c => c.Arg.OwnedKind is not null).Select(c => c.Arg.OwnedKind!).ToList();
                var sent = combination.Select(c => c.Arg.Value).ToList();
                foreach (var method in methods)
                {
                    var query = queries.GetValueOrDefault(route, "");
                    var (status, text) = await CallAsBAsync(method, path + query, bodies.GetValueOrDefault($"{method} {route}"), route, isPage: IsPage(endpoint));
                    calls++;
                    var call = $"{method} {path}{query}";
                    if (owned.Count > 0)
                    {
                        ownedCalls++;
                        kinds.UnionWith(owned);
                        var seen = Deliberate.ContainsKey($"{method} {route}") ? $"{status} ({method} {route})" : status.ToString(System.Globalization.CultureInfo.InvariantCulture);
                        statuses[seen] = statuses.GetValueOrDefault(seen) + 1;
                        if (status is not (403 or 404) && Deliberate.GetValueOrDefault($"{method} {route}") != status)
                        {
                            problems.Add($"{call} (A's {string.Join(", ", owned)}) answered {status} to viewer B, not 403/404");
                        }
                    }
                    else if (status >= 500)
                    {
                        problems.Add($"{call} answered {status} to viewer B");
                    }

                    // A value B put in the request may come back (an echo is not a leak); nothing else of A's may.
                    var leaked = secrets.Where(s => !sent.Contains(s, StringComparer.OrdinalIgnoreCase) && !query.Contains(Uri.EscapeDataString(s), StringComparison.OrdinalIgnoreCase)
                                                    && text.Contains(s, StringComparison.OrdinalIgnoreCase)).ToList();
                    if (leaked.Count > 0)
                    {
                        problems.Add($"{call} ({status}) carries A's {string.Join(", ", leaked)}");
                    }
                }
            }
        }

        return new WalkReport(problems, calls, ownedCalls, kinds, statuses);
    }

    private static bool IsPage(RouteEndpoint e) => e.Metadata.GetMetadata<Microsoft.AspNetCore.Components.Endpoints.ComponentTypeMetadata>() is not null;

    /// <summary>
    /// One request as B (signed in again first if an earlier route signed B out or deleted B's sessions): its status and
    /// its body with the Location header. Form pages get B's own antiforgery token, so that the page's handler answers.
    /// </summary>
    private async Task<(int Status, string Text)> CallAsBAsync(string method, string pathAndQuery, object? body, string route, bool isPage)
    {
        if ((await bClient.GetAsync("/api/identity/me")).StatusCode != HttpStatusCode.OK)
        {
            await SignInBAsync();
        }

        using var request = new HttpRequestMessage(new HttpMethod(method), pathAndQuery);
        var client = bClient;
        if (method is "POST" or "PUT" or "PATCH" or "DELETE")
        {
            request.Headers.Add("Idempotency-Key", route.EndsWith("/rent", StringComparison.Ordinal) ? ARentKey : ACheckoutKey); // A's keys: scoped to A, never B's answer
            if (isPage && method == "POST")
            {
                // A form post as a browser sends it: B's session and antiforgery cookies (Secure: sent by hand over
                // plain-HTTP loopback) and B's token, so that the page's own handler is what answers.
                var (cookie, token) = bForm ??= await AntiforgeryOfBAsync();
                var form = new Dictionary<string, string>(PageForms.GetValueOrDefault(route) ?? new() { ["_handler"] = "walk" })
                {
                    ["__RequestVerificationToken"] = token,
                };
                request.Content = new FormUrlEncodedContent(form);
                request.Headers.Add("Cookie", $"{bCookie}; {cookie}");
                client = bPages!;
            }
            else if (method != "DELETE" || body is not null)
            {
                request.Content = JsonContent.Create(body ?? new { });
            }
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync() + " " + response.Headers.Location;
        return ((int)response.StatusCode, text);
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenRegex();

    /// <summary>B's antiforgery cookie and form token, from a page with a form.</summary>
    private async Task<(string Cookie, string Token)> AntiforgeryOfBAsync()
    {
        bPages ??= new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = App.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/profiles");
        request.Headers.Add("Cookie", bCookie);
        using var response = await bPages.SendAsync(request);
        var cookie = response.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]).Single(c => c.StartsWith("__Host-marquee-af=", StringComparison.Ordinal));
        var match = TokenRegex().Match(await response.Content.ReadAsStringAsync());
        return match.Success ? (cookie, WebUtility.HtmlDecode(match.Groups[1].Value)) : throw new InvalidOperationException("no antiforgery token on /profiles");
    }

    /// <summary>A's objects as A reads them (A's two devices still signed in), and A's account row.</summary>
    internal async Task<string> SnapshotAsync()
    {
        var text = new StringBuilder();
        foreach (var path in new[] { "/api/identity/me", "/api/identity/profiles", "/api/identity/sessions", "/api/identity/passkeys", $"/api/playback/sessions/{aPlayback}", "/api/billing/subscription", "/api/billing/invoices/mine" }
                     .Concat(aPayments.Select(p => $"/api/billing/payments/{p}")))
        {
            using var response = await aClient.GetAsync(path);
            text.Append(path).Append(' ').Append((int)response.StatusCode).Append(' ').AppendLine(LastSeen().Replace(await response.Content.ReadAsStringAsync(), ""));
        }

        text.Append("second device ").AppendLine(((int)(await aSecondDevice.GetAsync("/api/identity/me")).StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
        text.AppendLine(await App.ScopedAsync(async sp =>
        {
            var a = await sp.GetRequiredService<IdentityDb>().Accounts.AsNoTracking().SingleAsync(x => x.Id == aId);
            return JsonSerializer.Serialize(new { a.Email, a.DisplayName, a.PasswordHash, a.SecurityStamp, a.AccessFailedCount, a.LockoutEnd });
        }));
        text.AppendLine(await App.ScopedAsync(async sp => JsonSerializer.Serialize(
            await sp.GetRequiredService<IdentityDb>().Profiles.AsNoTracking().Where(p => p.AccountId == aId).OrderBy(p => p.Name)
                .Select(p => new { p.Id, p.Name, p.IsKids, p.MaturityLimit, p.PinHash, p.Language }).ToListAsync())));
        return text.ToString();
    }

    [GeneratedRegex("\"lastSeenAt\":\"[^\"]*\"")]
    private static partial Regex LastSeen();

    /// <summary>Puts A's profiles back as they were made (after the negative control changed one).</summary>
    internal Task RestoreProfilesAsync() => App.ScopedAsync(async sp =>
    {
        var db = sp.GetRequiredService<IdentityDb>();
        await db.Profiles.Where(p => p.AccountId == aId).ExecuteUpdateAsync(u => u.SetProperty(p => p.Language, "en"));
        return true;
    });

    /// <summary>
    /// Three routes with the faults the walk is there to find, marked <see cref="BrokenForTheWalk"/> (the real walk leaves
    /// them out): a read by id without an ownership check, a list without an owner filter, and a change by id without an
    /// ownership check that answers 404 anyway.
    /// </summary>
    private static void MapBrokenVariants(WebApplication web)
    {
        web.MapGet("/api/test-broken/profiles/{id:guid}", async (Guid id, IdentityDb db) =>
                await db.Profiles.AsNoTracking().FirstOrDefaultAsync(p => p.Id == id) is { } p ? Results.Ok(new { p.Id, p.Name }) : Results.NotFound())
            .RequireAuthorization().WithMetadata(new BrokenForTheWalk()).ExcludeFromDescription();
        web.MapGet("/api/test-broken/profile-names", async (IdentityDb db) => Results.Ok(await db.Profiles.AsNoTracking().Select(p => p.Name).ToListAsync()))
            .RequireAuthorization().WithMetadata(new BrokenForTheWalk()).ExcludeFromDescription();
        web.MapPost("/api/test-broken/profiles/{id:guid}/language", async (Guid id, IdentityDb db) =>
            {
                await db.Profiles.Where(p => p.Id == id).ExecuteUpdateAsync(u => u.SetProperty(p => p.Language, "de"));
                return Results.NotFound();
            })
            .RequireAuthorization().WithMetadata(new BrokenForTheWalk()).ExcludeFromDescription().DisableAntiforgery();
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: {(int)response.StatusCode} {body}");
        return JsonSerializer.Deserialize<JsonElement>(body);
    }

    private static async Task<HttpResponseMessage> PostKeyedAsync(HttpClient client, string path, object body, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", key);
        return await client.SendAsync(request);
    }

    private sealed class AnyTitle(TestPackage package) : IMediaPackages
    {
        public Task<PackagedTitle?> FindPlayableAsync(Guid titleId, CancellationToken cancellationToken) =>
            Task.FromResult<PackagedTitle?>(package.Package with { TitleId = titleId });

        public Task<byte[]?> GetContentKeyAsync(Guid assetId, CancellationToken cancellationToken) =>
            Task.FromResult(assetId == package.AssetId ? (byte[]?)package.Key.ToArray() : null);
    }
}
