using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Reflection;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Marquee.Delivery;
using Marquee.Identity;
using Marquee.Platform.Audit;
using Marquee.Identity.Data;
using Marquee.Tests.Billing;
using Marquee.Tests.Billing.Stripe;
using Marquee.Tests.Identity;
using Marquee.Tests.Support;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OtpNet;
using WireMock.Matchers;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Marquee.Tests.Resilience;

/// <summary>
/// R23, secrets at rest: one host runs every flow that handles a secret (a Stripe key and webhook secret in the
/// configuration, a checkout and a signed webhook through them, sign-up and sign-in passwords, a sign-in link, a password
/// reset, a TOTP enrolment with recovery codes, an OpenID Connect code grant with a refresh-token rotation, the playback
/// token secret), logging at Information into a file in the data folder; the host is stopped (SQLite checkpoints its
/// WAL) and every file under the data folder is searched byte-wise for each secret: as UTF-8, UTF-16, hex and base64
/// (standard and URL-safe, at each of the three byte alignments). On PostgreSQL a <c>pg_dump</c> of the test database is
/// searched as well. The mail pickup folder is skipped only for the tokens and codes a mail is meant to carry (the sign-up
/// code, the sign-in and reset links); it is searched for everything else (passwords, keys).
/// </summary>
public sealed class SecretsAtRestTests
{
    [Fact]
    public async Task Secrets_AfterTheFlowsThatHandleThem_AreNowhereInClearUnderTheDataFolder()
    {
        var run = Guid.NewGuid().ToString("N");
        var secrets = new Secrets();
        var stripeKey = secrets.Add("stripe api key", $"sk_test_r23{run}");
        var webhookSecret = secrets.Add("stripe webhook secret", $"whsec_r23{run}");
        var planted = $"planted-r23-{run}";
        var log = new FileLog();

        using var stripe = WireMockServer.Start();
        stripe.Given(Request.Create().WithPath("/v1/customers").UsingPost()).RespondWith(Json(StripeHost.Fixture("customer.json")));
        stripe.Given(Request.Create().WithPath("/v1/payment_intents").UsingPost().WithBody(new RegexMatcher(StripeHost.MethodPattern(StripeHost.Succeeds))))
            .RespondWith(Json(StripeHost.Fixture("payment_intent_succeeded.json")));

        await using var storage = await TestStorage.CreateAsync();
        var keyRing = Certificate(storage.DataDir + "-cert");
        await using (var app = await MarqueeApp.StartAsync(
            c =>
            {
                c["Logging:LogLevel:Default"] = "Information";
                c["Marquee:KeyRing:CertificatePath"] = keyRing.Path;
                c["Marquee:KeyRing:CertificatePassword"] = keyRing.Password;
                c["Marquee:Billing:Gateway"] = "stripe";
                c["Marquee:Billing:Stripe:ApiKey"] = stripeKey;
                c["Marquee:Billing:Stripe:WebhookSecret"] = webhookSecret;
                c["Marquee:Billing:Stripe:ApiBase"] = $"http://127.0.0.1:{stripe.Port}";
                c["Marquee:Billing:Stripe:ReturnUrl"] = "https://marquee.example/billing/stripe/return";
                c["Marquee:Billing:Stripe:MaxNetworkRetries"] = "0";
                c["Marquee:Billing:TaxRates:DE"] = "0.19";
                c["Marquee:Outbound:AllowedHosts:0"] = $"127.0.0.1:{stripe.Port}";
                c["Marquee:Identity:Oidc:AllowHttp"] = "true";
            },
            s => s.AddSingleton<ILoggerProvider>(log),
            storage: storage))
        {
            secrets.Add("admin password", app.AdminPassword);
            secrets.Add("key ring certificate password", keyRing.Password);

            // Sign-up with a password, the code from the mail, then sign-in with it.
            var email = $"r23-{run}@example.com";
            var signUpPassword = secrets.Add("sign-up password", $"first pass phrase {run}");
            Assert.Equal(HttpStatusCode.Accepted, (await app.AnonymousClient.PostAsJsonAsync("/api/identity/signup",
                new { email, password = signUpPassword, acceptTerms = true, acceptPrivacy = true })).StatusCode);
            var code = await SignUpAndSignInTests.CodeFromMailAsync(app, email); // six digits: too short to search for
            using (var verify = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = app.BaseAddress })
            {
                Assert.Equal(HttpStatusCode.NoContent, (await verify.PostAsJsonAsync("/api/identity/signup/verify", new { email, code })).StatusCode);
            }

            await app.SignInAsync(email, signUpPassword);

            // A sign-in link and a password reset, each from the browser that asked.
            using var browser = new HttpClient(new AccountSecurityTests.CookieJar { InnerHandler = new HttpClientHandler { UseCookies = false } }) { BaseAddress = app.BaseAddress };
            Assert.Equal(HttpStatusCode.Accepted, (await browser.PostAsJsonAsync("/api/identity/links", new { email })).StatusCode);
            var link = secrets.Add("sign-in link token", await AccountSecurityTests.TokenFromMailAsync(app, email, "signin/link"), mailCarriesIt: true);
            Assert.Equal(HttpStatusCode.NoContent, (await browser.PostAsJsonAsync("/api/identity/links/signin", new { token = link })).StatusCode);
            Assert.Equal(HttpStatusCode.Accepted, (await browser.PostAsJsonAsync("/api/identity/password/reset", new { email })).StatusCode);
            var reset = secrets.Add("password reset token", await AccountSecurityTests.TokenFromMailAsync(app, email, "signin/reset"), mailCarriesIt: true);
            var password = secrets.Add("reset password", $"second pass phrase {run}");
            Assert.Equal(HttpStatusCode.NoContent, (await browser.PostAsJsonAsync("/api/identity/password/reset/complete", new { token = reset, password })).StatusCode);
            var cookie = await app.SignInAsync(email, password);

            // An OpenID Connect code grant (PKCE) for the account, and a refresh-token rotation.
            var clientId = $"r23-{run}"[..20];
            Assert.Equal(HttpStatusCode.Created, (await app.Client.PostAsJsonAsync("/api/identity/apps", new
            {
                clientId, displayName = "R23 TV", type = "public", redirectUris = new[] { Redirect },
                grantTypes = new[] { "authorization_code", "refresh_token" },
            })).StatusCode);
            var tokens = await CodeGrantAsync(app, cookie, clientId, secrets);
            var rotated = await TokenAsync(app, new() { ["grant_type"] = "refresh_token", ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()!, ["client_id"] = clientId });
            secrets.Add("rotated refresh token", rotated.GetProperty("refresh_token").GetString()!);
            secrets.Add("rotated access token", rotated.GetProperty("access_token").GetString()!);

            // TOTP enrolment as the account page does it, recovery codes, and a sign-in with one of them.
            var (totpKey, recovery) = await app.ScopedAsync(async sp =>
            {
                var users = sp.GetRequiredService<UserManager<Account>>();
                var account = (await users.FindByEmailAsync(email))!;
                await users.ResetAuthenticatorKeyAsync(account);
                var key = (await users.GetAuthenticatorKeyAsync(account))!;
                Assert.True(await users.VerifyTwoFactorTokenAsync(account, TokenOptions.DefaultAuthenticatorProvider, new Totp(Base32Encoding.ToBytes(key)).ComputeTotp()));
                await users.SetTwoFactorEnabledAsync(account, true);
                return (key, (await users.GenerateNewTwoFactorRecoveryCodesAsync(account, 10))!.ToList());
            });
            secrets.Add("totp secret (base32)", totpKey);
            secrets.Add("totp secret (raw)", Base32Encoding.ToBytes(totpKey));
            recovery.ForEach(r => secrets.Add("recovery code", r));
            await app.SignInAsync(email, password, recovery[0]);

            // A checkout through Stripe with the API key, and a webhook signed with the webhook secret.
            await app.CreatePlanAsync("basic", "Monthly", 999);
            var subscriber = app.ClientWith(cookie);
            var checkout = await subscriber.PostKeyedAsync("/api/billing/checkout", new { plan = "basic", currency = "EUR", card = StripeHost.Succeeds, country = "DE" }, $"r23-{run}");
            Assert.True(checkout.StatusCode == HttpStatusCode.Created, await checkout.Content.ReadAsStringAsync());
            Assert.Contains(stripe.LogEntries, e => e.RequestMessage.Headers!.TryGetValue("Authorization", out var a) && a.Contains($"Bearer {stripeKey}"));
            var evt = StripeHost.Fixture("event_payment_intent_succeeded.json");
            using (var webhook = new HttpRequestMessage(HttpMethod.Post, "/api/billing/webhooks/stripe") { Content = new StringContent(evt, Encoding.UTF8, "application/json") })
            {
                var t = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                webhook.Headers.TryAddWithoutValidation("Stripe-Signature", $"t={t},v1={Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(webhookSecret), Encoding.UTF8.GetBytes($"{t}.{evt}")))}");
                var answer = await app.AnonymousClient.SendAsync(webhook);
                Assert.NotEqual(HttpStatusCode.BadRequest, answer.StatusCode); // the signature was accepted
            }

            // The playback-token secret (made on first use, kept under keys/).
            var playback = app.Services.GetRequiredService<PlaybackTokens>();
            secrets.Add("playback token secret", (byte[])typeof(PlaybackTokens).GetField("secret", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(playback)!);
            Assert.True(File.Exists(Path.Combine(storage.DataDir, "keys", "playback-token.key")));

            // The negative control: a secret written in clear into the database must be found by the same sweep.
            await app.ScopedAsync(async sp =>
            {
                await sp.GetRequiredService<IAuditLog>().RecordAsync(new AuditRecord("system", "test.r23-planted", "r23", null, planted), CancellationToken.None);
                return 0;
            });
        }

        log.WriteTo(Path.Combine(storage.DataDir, "logs", "host.log"));
        Assert.Contains(log.Lines, l => l.Contains("Now listening", StringComparison.Ordinal) || l.Contains("Application started", StringComparison.Ordinal));
        if (storage.Database.Provider == "Postgres")
        {
            await DumpPostgresAsync(storage, Path.Combine(storage.DataDir, "pg_dump.sql"));
        }

        var files = Directory.GetFiles(storage.DataDir, "*", SearchOption.AllDirectories);
        Assert.Contains(files, f => f.EndsWith(storage.Database.Provider == "Postgres" ? "pg_dump.sql" : "marquee.db", StringComparison.Ordinal));
        Assert.Contains(files, f => f.Contains($"{Path.DirectorySeparatorChar}keys{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
        Assert.Contains(files, f => f.Contains($"{Path.DirectorySeparatorChar}mail{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

        var hits = Sweep(storage.DataDir, files, secrets.All);
        Assert.True(hits.Count == 0, "secrets in clear under the data folder:\n" + string.Join("\n", hits));

        // Key ring: no key material in clear.
        Assert.All(Directory.GetFiles(Path.Combine(storage.DataDir, "keys"), "key-*.xml"),
            f => Assert.DoesNotContain("<value>", File.ReadAllText(f), StringComparison.Ordinal));

        // Negative control: the planted value is found (in the database file, after the checkpoint).
        var control = Sweep(storage.DataDir, files, [new Secret("planted", Encoding.UTF8.GetBytes(planted), false)]);
        Assert.Contains(control, h => h.Contains(storage.Database.Provider == "Postgres" ? "pg_dump.sql" : "marquee.db", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("Category", "ProviderFree")]
    public void AppSettings_InTheRepository_CarryNoSecrets()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Marquee.slnx")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var files = Directory.GetFiles(root.FullName, "appsettings*.json", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}node_modules{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(files);
        var found = files.SelectMany(f => SecretsIn(f, File.ReadAllText(f))).ToList();
        Assert.True(found.Count == 0, string.Join("\n", found));

        // Negative control: the same check flags a key with a value and a Stripe-looking string.
        Assert.Equal(2, SecretsIn("planted.json", """{ "Marquee": { "Billing": { "Stripe": { "ApiKey": "sk_live_abc", "WebhookSecret": "whsec_x" } } } }""").Count());
    }

    /// <summary>Settings whose name says secret (password, secret, api key, private key, connection string with a password) with a value, and values that look like keys.</summary>
    private static IEnumerable<string> SecretsIn(string file, string json)
    {
        var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var stack = new Stack<(string Path, JsonElement Element)>([("", document.RootElement)]);
        while (stack.Count > 0)
        {
            var (path, element) = stack.Pop();
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var p in element.EnumerateObject())
                    {
                        stack.Push(($"{path}:{p.Name}", p.Value));
                    }

                    break;
                case JsonValueKind.Array:
                    var i = 0;
                    foreach (var item in element.EnumerateArray())
                    {
                        stack.Push(($"{path}:{i++}", item));
                    }

                    break;
                case JsonValueKind.String:
                    var value = element.GetString()!;
                    var name = path[(path.LastIndexOf(':') + 1)..];
                    var secretName = System.Text.RegularExpressions.Regex.IsMatch(name, "password|secret|apikey|api_key|privatekey|token", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
                    var looksLikeKey = System.Text.RegularExpressions.Regex.IsMatch(value, @"(sk|rk)_(live|test)_|whsec_|-----BEGIN|password=\S", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
                    if ((secretName && value.Length > 0) || looksLikeKey)
                    {
                        yield return $"{file}: {path.TrimStart(':')}";
                    }

                    break;
            }
        }
    }

    private const string Redirect = "http://127.0.0.1:7/callback";

    private static async Task<JsonElement> CodeGrantAsync(MarqueeApp app, string cookie, string clientId, Secrets secrets)
    {
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = app.BaseAddress };
        browser.DefaultRequestHeaders.Add("Cookie", cookie);
        var authorize = await browser.GetAsync($"/connect/authorize?client_id={clientId}&response_type=code&scope=openid%20offline_access&redirect_uri={Uri.EscapeDataString(Redirect)}&code_challenge={challenge}&code_challenge_method=S256&state=x");
        Assert.Equal(HttpStatusCode.Redirect, authorize.StatusCode);
        var code = System.Web.HttpUtility.ParseQueryString(authorize.Headers.Location!.Query)["code"] ?? throw new InvalidOperationException($"no code in {authorize.Headers.Location}");
        secrets.Add("authorization code", code);
        secrets.Add("pkce verifier", verifier);
        var tokens = await TokenAsync(app, new() { ["grant_type"] = "authorization_code", ["code"] = code, ["code_verifier"] = verifier, ["redirect_uri"] = Redirect, ["client_id"] = clientId });
        secrets.Add("refresh token", tokens.GetProperty("refresh_token").GetString()!);
        secrets.Add("access token", tokens.GetProperty("access_token").GetString()!);
        return tokens;
    }

    private static async Task<JsonElement> TokenAsync(MarqueeApp app, Dictionary<string, string> form)
    {
        using var response = await app.AnonymousClient.PostAsync("/connect/token", new FormUrlEncodedContent(form));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonSerializer.Deserialize<JsonElement>(body);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static IResponseBuilder Json(string body) =>
        Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithHeader("Request-Id", "req_fixture").WithBody(body);

    private static (string Path, string Password) Certificate(string folder)
    {
        Directory.CreateDirectory(folder);
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=r23-keyring", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture), DateTimeOffset.Parse("2036-01-01T00:00:00Z", CultureInfo.InvariantCulture));
        var password = $"keyring-{Guid.NewGuid():N}";
        var path = Path.Combine(folder, "keyring.pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx, password));
        return (path, password);
    }

    private static async Task DumpPostgresAsync(TestStorage storage, string file)
    {
        var cs = new Npgsql.NpgsqlConnectionStringBuilder(storage.Database.ConnectionString);
        var pgDump = Directory.Exists("/usr/lib/postgresql") ? Directory.GetFiles("/usr/lib/postgresql", "pg_dump", SearchOption.AllDirectories).Order().LastOrDefault() ?? "pg_dump" : "pg_dump";
        var (exit, output, error) = await Tools.RunAsync(pgDump, ["--data-only", "-h", cs.Host!, "-p", cs.Port.ToString(CultureInfo.InvariantCulture), "-U", cs.Username!, "-f", file, cs.Database!], storage.DataDir);
        Assert.True(exit == 0, $"pg_dump failed: {output}{error}");
    }

    /// <summary>Every (file, secret, encoding) where the secret's bytes occur; the mail folder is skipped for secrets a mail carries.</summary>
    internal static List<string> Sweep(string root, IEnumerable<string> files, IReadOnlyList<Secret> secrets)
    {
        var needles = secrets.SelectMany(s => Encodings(s.Value).Select(e => (Secret: s, e.Encoding, e.Bytes))).ToList();
        var mail = Path.Combine(root, "mail") + Path.DirectorySeparatorChar;
        var hits = new List<string>();
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(file);
            foreach (var (secret, encoding, needle) in needles)
            {
                if (secret.MailCarriesIt && file.StartsWith(mail, StringComparison.Ordinal))
                {
                    continue;
                }

                if (bytes.AsSpan().IndexOf(needle) >= 0)
                {
                    hits.Add($"{Path.GetRelativePath(root, file)}: {secret.Name} as {encoding}");
                }
            }
        }

        return hits;
    }

    /// <summary>The forms a secret's bytes may take in a file: raw/UTF-8, UTF-16LE, hex, base64 and base64url at the three alignments.</summary>
    private static IEnumerable<(string Encoding, byte[] Bytes)> Encodings(byte[] value)
    {
        yield return ("utf-8", value);
        if (Utf8(value) is { } text)
        {
            yield return ("utf-16", Encoding.Unicode.GetBytes(text));
        }

        yield return ("hex", Encoding.ASCII.GetBytes(Convert.ToHexStringLower(value)));
        yield return ("HEX", Encoding.ASCII.GetBytes(Convert.ToHexString(value)));
        for (var skip = 0; skip < 3; skip++)
        {
            // Inside a longer base64 text the secret starts at one of three byte alignments: the whole 3-byte groups
            // from the first aligned byte encode the same way whatever comes before or after.
            var groups = (value.Length - skip) / 3;
            if (groups < 4)
            {
                continue;
            }

            var b64 = Convert.ToBase64String(value, skip, groups * 3);
            yield return ($"base64+{skip}", Encoding.ASCII.GetBytes(b64));
            yield return ($"base64url+{skip}", Encoding.ASCII.GetBytes(b64.Replace('+', '-').Replace('/', '_')));
        }
    }

    private static string? Utf8(byte[] value)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(value);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    internal sealed record Secret(string Name, byte[] Value, bool MailCarriesIt);

    private sealed class Secrets
    {
        private readonly List<Secret> all = [];

        public IReadOnlyList<Secret> All => all;

        public string Add(string name, string value, bool mailCarriesIt = false)
        {
            Assert.True(value.Length >= 10, $"{name} is too short to search for");
            all.Add(new Secret(name, Encoding.UTF8.GetBytes(value), mailCarriesIt));
            return value;
        }

        public void Add(string name, byte[] value) => all.Add(new Secret(name, value, false));
    }

    /// <summary>Everything the host logs (Information and up, with exceptions and structured values), written into the data folder at the end.</summary>
    private sealed class FileLog : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> lines = new();

        public IEnumerable<string> Lines => lines;

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, lines);

        public void WriteTo(string path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllLines(path, lines);
        }

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
                lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {values} {exception}");
            }
        }
    }
}
