using System.Security.Claims;
using System.Threading.RateLimiting;
using Marquee.Identity.Data;
using Marquee.Identity.External;
using Marquee.Identity.Oidc;
using Marquee.Identity.Risk;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Hosting;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Identity;

/// <summary>Identity: accounts, roles, sign-in (password, TOTP, passkeys, magic links), sign-up with e-mail verification.</summary>
public static class IdentityModule
{
    /// <summary>Rate limit per client IP on sign-in, sign-up, verification and link requests (pages and API).</summary>
    public const string RateLimitPolicy = "identity-per-ip";

    public static IServiceCollection AddIdentity(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddModuleDb<IdentityDb, SqliteIdentityDb, PostgresIdentityDb>(configuration);
        services.AddOptions<AccountOptions>().Bind(configuration.GetSection(AccountOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        var options = configuration.GetSection(AccountOptions.Section).Get<AccountOptions>() ?? new AccountOptions();

        services.AddIdentityCore<Account>(o =>
            {
                o.User.RequireUniqueEmail = true;
                // NIST 800-63B: length, no composition rules; the common-password check is PasswordRules.
                o.Password.RequiredLength = options.PasswordMinLength;
                o.Password.RequireDigit = false;
                o.Password.RequireLowercase = false;
                o.Password.RequireUppercase = false;
                o.Password.RequireNonAlphanumeric = false;
                o.Password.RequiredUniqueChars = 1;
                o.Lockout.AllowedForNewUsers = true;
                o.Lockout.MaxFailedAccessAttempts = options.LockoutAttempts;
                o.Lockout.DefaultLockoutTimeSpan = options.LockoutDuration;
                o.Stores.SchemaVersion = IdentitySchemaVersions.Version3;
            })
            .AddRoles<Role>()
            .AddSignInManager()
            .AddDefaultTokenProviders()
            .AddTokenProvider<TotpProvider>(TokenOptions.DefaultAuthenticatorProvider);
        services.AddScoped<IUserStore<Account>, AccountStore>();
        services.AddScoped<IRoleStore<Role>, Microsoft.AspNetCore.Identity.EntityFrameworkCore.RoleStore<Role, IdentityDb, Guid>>();
        services.AddScoped<PasswordRules>();
        services.AddScoped<IPasswordValidator<Account>>(sp => sp.GetRequiredService<PasswordRules>());
        services.AddScoped<Accounts>();
        services.AddScoped<SignInFlow>();
        services.AddScoped<SignUps>();
        services.AddSingleton<IMailSender, MailSender>();
        services.AddEventHandler<MailQueued, MailDelivery>();
        services.AddEventHandler<Contracts.AccountDeleted, MailErasure>();
        services.AddSingleton<Contracts.IMail, MailContract>();
        services.AddScoped<Contracts.IAccountFacts, AccountFacts>();
        services.AddScoped<IDemoContent, IdentityDemo>();
        services.AddAccountServices(configuration);
        services.AddOidcProvider(configuration);
        services.AddExternalSignIn(configuration);
        services.AddSignUpRisk(configuration);

        services.AddRateLimiter(o => o.AddPolicy(RateLimitPolicy, http =>
        {
            var limit = http.RequestServices.GetRequiredService<IOptions<AccountOptions>>().Value.RequestsPerMinutePerIp;
            var ip = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
            return RateLimitPartition.GetFixedWindowLimiter(ip, _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = limit,
                Window = TimeSpan.FromMinutes(1),
                QueueLimit = 0,
            });
        }));
        return services;
    }

    public static RouteGroupBuilder MapIdentity(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("").WithTags("Identity");

        group.MapPost("/signin", async (SignInRequest input, SignInFlow flow) =>
            {
                var (outcome, _) = await flow.PasswordAndCodeAsync(input.Email ?? "", input.Password ?? "", input.Code);
                return outcome switch
                {
                    PasswordOutcome.SignedIn => Results.NoContent(),
                    PasswordOutcome.NeedsSecondFactor => Problem(401, "Second factor needed", "Send the code from your authenticator app (or a recovery code) as 'code'.", "mfa-required"),
                    _ => Problem(401, "Not signed in", SignInFlow.RefusedMessage, "sign-in-refused"),
                };
            })
            .AllowAnonymous()
            .RequireRateLimiting(RateLimitPolicy)
            .WithName("SignIn")
            .WithSummary("Signs in with e-mail, password and (for accounts with MFA) a TOTP or recovery code; sets the __Host-marquee cookie. The same answer for unknown e-mails, wrong passwords and locked accounts.");

        group.MapPost("/signup", async (SignUpRequest input, SignUps signUps, SignUpRisk risk, HttpContext http, CancellationToken ct) =>
            {
                var errors = signUps.Check(input);
                if (errors.Count > 0)
                {
                    return (IResult)TypedResults.ValidationProblem(errors);
                }

                var assessment = await risk.AssessAsync(http, input.Email!, input.FormToken, ct);
                if (RiskApi.Refusal(assessment) is { } refused)
                {
                    return refused;
                }

                await signUps.StartAsync(input, ct, assessment.HeldUntil);
                return Results.Text(assessment.HeldUntil is null ? SignUpAccepted : SignUpHeld, "application/json", System.Text.Encoding.UTF8, StatusCodes.Status202Accepted);
            })
            .AllowAnonymous()
            .RequireRateLimiting(RateLimitPolicy)
            .WithName("SignUp")
            .WithSummary("Starts a sign-up: e-mail, password, acceptance of the terms and privacy policy. E-mails a code; the same answer whether or not the address has an account.")
            .ProducesValidationProblem();

        group.MapPost("/signup/verify", async (VerifyRequest input, SignUps signUps, SignInFlow flow, SignInManager<Account> signIn, CancellationToken ct) =>
            {
                if (await signUps.VerifyAsync(input.Email, input.Code, ct) is not { } account)
                {
                    return Problem(400, "Code not accepted", CodeRefused, "code-refused");
                }

                await signIn.SignInAsync(account, isPersistent: false);
                await flow.SignedInAsync(account);
                return Results.NoContent();
            })
            .AllowAnonymous()
            .RequireRateLimiting(RateLimitPolicy)
            .WithName("VerifySignUp")
            .WithSummary("Finishes a sign-up with the e-mailed code: creates the account (role viewer) and signs it in.");

        group.MapPost("/signout", async (SignInManager<Account> signIn) =>
            {
                await signIn.SignOutAsync();
                return Results.NoContent();
            })
            .AllowAnonymous()
            .WithName("SignOut")
            .WithSummary("Signs out (clears the cookie).");

        group.MapGet("/me", (ClaimsPrincipal user) => TypedResults.Ok(new Me(
                Guid.Parse(user.FindFirstValue(ClaimTypes.NameIdentifier)!),
                user.Identity?.Name ?? "",
                [.. user.FindAll(ClaimTypes.Role).Select(c => c.Value).Order(StringComparer.Ordinal)])))
            .RequireAuthorization()
            .WithName("GetMe")
            .WithSummary("The signed-in account: id, e-mail, roles.");

        group.MapGet("/mfa/qr.svg", async (ClaimsPrincipal principal, UserManager<Account> users) =>
            {
                var account = await users.GetUserAsync(principal);
                var key = account is null ? null : await users.GetAuthenticatorKeyAsync(account);
                if (account is null || string.IsNullOrEmpty(key) || await users.GetTwoFactorEnabledAsync(account))
                {
                    return Results.NotFound();
                }

                return Results.Text(TotpProvider.QrSvg(TotpProvider.Uri("Marquee", account.Email!, key)), "image/svg+xml", System.Text.Encoding.UTF8);
            })
            .RequireAuthorization()
            .ExcludeFromDescription();

        group.MapAccountApi();
        group.MapClientApps();
        group.MapSignUpRisk();
        return group;
    }

    /// <summary>Routes outside /api/identity: the OpenID Connect provider's endpoints (/connect/...) and external sign-in (/signin/external/...).</summary>
    public static void MapIdentityProtocols(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapOidcProvider();
        endpoints.MapExternalSignIn();
    }

    /// <summary>The page form's sign-out: a form post (antiforgery checked), then home.</summary>
    public static void MapSignOutForm(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPost("/signout", async (SignInManager<Account> signIn, [FromForm] string? returnUrl) =>
            {
                await signIn.SignOutAsync();
                return TypedResults.LocalRedirect(LocalUrl.Or(returnUrl, "/"));
            })
            .AllowAnonymous()
            .ExcludeFromDescription();

    /// <summary>For <c>marquee admin create</c>: an account with the admin role. Null on success, else the problem in words.</summary>
    /// <summary>After a restore (<c>marquee backup restore</c>): erases again an account the erasure register names; true when the restored database had it.</summary>
    public static async Task<bool> EraseAgainAsync(IServiceProvider services, Guid accountId, DateTimeOffset erasedAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        await using var scope = services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<AccountEraser>().EraseAgainAsync(accountId, erasedAt, cancellationToken);
    }

    /// <summary>The erasures (<c>AccountDeleted</c>) in Identity's outbox not yet handled by every module, and how many of them gave up.</summary>
    public static async Task<(int Waiting, int Failed)> UndeliveredErasuresAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        await using var scope = services.CreateAsyncScope();
        var waiting = await scope.ServiceProvider.GetRequiredService<IdentityDb>().Outbox.AsNoTracking()
            .Where(m => m.EventName == "identity.account-deleted.v1" && m.DeliveredAt == null)
            .Select(m => m.FailedAt).ToListAsync(cancellationToken);
        return (waiting.Count, waiting.Count(f => f != null));
    }

    /// <summary>Whether the database has this account (a restore asks before erasing it again).</summary>
    public static async Task<bool> HasAccountAsync(IServiceProvider services, Guid accountId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        await using var scope = services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IdentityDb>().Accounts.AnyAsync(a => a.Id == accountId, cancellationToken);
    }

    public static async Task<string?> CreateAdminAsync(IServiceProvider services, string email, string password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        await using var scope = services.CreateAsyncScope();
        var accounts = scope.ServiceProvider.GetRequiredService<Accounts>();
        if (await accounts.FindAsync(email) is not null)
        {
            return $"An account with the e-mail {email.Trim()} already exists.";
        }

        var (_, problem) = await accounts.CreateAsync(email, password, [Roles.Admin], cancellationToken);
        return problem;
    }

    /// <summary>The one answer to a sign-up request.</summary>
    internal const string SignUpAccepted = "{\"status\":\"code-sent\",\"detail\":\"If the address can receive mail, a code is on its way. Enter it to finish.\"}";

    /// <summary>The answer to a sign-up the risk scorer challenged: the code works only after a waiting time (the e-mail says when).</summary>
    internal const string SignUpHeld = "{\"status\":\"code-sent-held\",\"detail\":\"If the address can receive mail, a code is on its way. For this sign-up the code starts to work a few minutes from now: the e-mail says when.\"}";

    internal const string CodeRefused = "That code is wrong, expired or used up. Check the latest e-mail, or start again to get a new code.";

    /// <summary>A fixed problem document (no trace id), so that answers that must not differ are byte for byte the same.</summary>
    internal static IResult Problem(int status, string title, string detail, string type) =>
        Results.Text(
            System.Text.Json.JsonSerializer.Serialize(new { type = $"https://marquee.invalid/problems/{type}", title, status, detail }),
            "application/problem+json", System.Text.Encoding.UTF8, status);
}

internal sealed record SignInRequest(string? Email, string? Password, string? Code);

internal sealed record Me(Guid Id, string Email, string[] Roles);
