using System.Security.Claims;
using Marquee.Identity.Contracts;
using Marquee.Identity.Data;
using Marquee.Platform.Audit;
using Marquee.Platform.Privacy;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Identity;

/// <summary>The account's own API: passkeys, sign-in links, password reset and change, sessions and devices, deletion.</summary>
internal static class AccountApi
{
    /// <summary>Passkeys, links, sessions, profiles, deletion and the stream limit.</summary>
    public static void AddAccountServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddMemoryCache();
        services.AddScoped<DeviceSessions>();
        services.AddScoped<MagicLinks>();
        services.AddScoped<Passkeys>();
        services.AddScoped<AccountSelf>();
        services.AddScoped<AccountDeletions>();
        services.AddScoped<AccountEraser>();
        services.AddScoped<AccountErasureRequests>();
        services.AddScoped<PersonalDataExport>();
        services.AddPersonalData<IdentityPersonalData>();
        services.AddScoped<Profiles>();
        services.AddScoped<Marquee.Identity.Contracts.IProfileMaturity>(sp => sp.GetRequiredService<Profiles>()); // browse and search hide what the active profile may not watch
        services.AddScoped<Marquee.Delivery.Contracts.IPlaybackPolicy, StreamLimitPolicy>();
        services.AddScoped<Marquee.Delivery.Contracts.IPlaybackPolicy, MaturityPolicy>();
        services.PostConfigure<Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationOptions>(IdentityConstants.ApplicationScheme, DeviceSessions.Configure);
        services.PostConfigure<SecurityStampValidatorOptions>(DeviceSessions.Configure);
        var marquee = configuration.GetSection(Marquee.Platform.MarqueeOptions.Section).Get<Marquee.Platform.MarqueeOptions>() ?? new Marquee.Platform.MarqueeOptions();
        if (marquee.HasRole("worker"))
        {
            services.AddHostedService<AccountDeletionSweeper>();
        }
    }

    public static void MapAccountApi(this RouteGroupBuilder group)
    {
        // Passkeys (WebAuthn through ASP.NET Core Identity; the browser side is wwwroot/js/passkeys.js).
        group.MapPost("/passkeys/creation-options", async (ClaimsPrincipal principal, UserManager<Account> users, SignInManager<Account> signIn) =>
            {
                var user = await users.GetUserAsync(principal);
                if (user is null)
                {
                    return Results.Unauthorized();
                }

                var json = await signIn.MakePasskeyCreationOptionsAsync(new PasskeyUserEntity
                {
                    Id = user.Id.ToString(),
                    Name = user.Email!,
                    DisplayName = user.DisplayName ?? user.Email!,
                });
                return Results.Text(json, "application/json");
            })
            .RequireAuthorization()
            .WithName("PasskeyCreationOptions")
            .WithSummary("WebAuthn creation options for a new passkey of the signed-in account (pass them to navigator.credentials.create).");

        group.MapPost("/passkeys", async (PasskeyAdd input, ClaimsPrincipal principal, Passkeys passkeys) =>
                await passkeys.AddAsync(principal, input.Credential, input.Name) switch
                {
                    (true, var id, _) => Results.Created($"/api/identity/passkeys/{id}", new { id }),
                    (false, _, var problem) => IdentityModule.Problem(400, "Passkey not added", problem!, "passkey-refused"),
                })
            .RequireAuthorization()
            .WithName("AddPasskey")
            .WithSummary("Adds a passkey: the JSON of navigator.credentials.create's result and a name.");

        group.MapGet("/passkeys", async (ClaimsPrincipal principal, Passkeys passkeys) => TypedResults.Ok(await passkeys.ListAsync(principal)))
            .RequireAuthorization()
            .WithName("ListPasskeys")
            .WithSummary("The signed-in account's passkeys: id (base64url credential id), name, created.");

        group.MapPut("/passkeys/{id}/name", async (string id, PasskeyRename input, ClaimsPrincipal principal, Passkeys passkeys) =>
                await passkeys.RenameAsync(principal, id, input.Name) ? Results.NoContent() : Results.NotFound())
            .RequireAuthorization()
            .WithName("RenamePasskey")
            .WithSummary("Renames one of the account's passkeys.");

        group.MapDelete("/passkeys/{id}", async (string id, ClaimsPrincipal principal, Passkeys passkeys) =>
                await passkeys.RemoveAsync(principal, id) ? Results.NoContent() : Results.NotFound())
            .RequireAuthorization()
            .WithName("RemovePasskey")
            .WithSummary("Removes one of the account's passkeys.");

        group.MapPost("/passkeys/request-options", async (SignInManager<Account> signIn) =>
                Results.Text(await signIn.MakePasskeyRequestOptionsAsync(null), "application/json"))
            .AllowAnonymous()
            .RequireRateLimiting(IdentityModule.RateLimitPolicy)
            .WithName("PasskeyRequestOptions")
            .WithSummary("WebAuthn request options for signing in with a passkey (discoverable credentials; pass them to navigator.credentials.get).");

        group.MapPost("/passkeys/signin", async (PasskeySignIn input, Passkeys passkeys) =>
                await passkeys.SignInAsync(input.Credential)
                    ? Results.NoContent()
                    : IdentityModule.Problem(401, "Not signed in", Passkeys.Refused, "sign-in-refused"))
            .AllowAnonymous()
            .RequireRateLimiting(IdentityModule.RateLimitPolicy)
            .WithName("PasskeySignIn")
            .WithSummary("Signs in with a passkey alone: the JSON of navigator.credentials.get's result.");

        // Sign-in links and password reset: one answer whether or not the e-mail has an account.
        group.MapPost("/links", async (LinkRequest input, MagicLinks links, CancellationToken ct) =>
            {
                await links.RequestAsync(input.Email, MagicLinks.SignIn, ct);
                return Results.Text(MagicLinks.Accepted, "application/json", System.Text.Encoding.UTF8, StatusCodes.Status202Accepted);
            })
            .AllowAnonymous()
            .RequireRateLimiting(IdentityModule.RateLimitPolicy)
            .WithName("RequestSignInLink")
            .WithSummary("E-mails a single-use sign-in link (10 minutes, this browser only) if the e-mail has an account; the same answer either way.");

        group.MapPost("/links/signin", async (LinkUse input, MagicLinks links, CancellationToken ct) =>
                await links.SignInAsync(input.Token, ct) ? Results.NoContent() : IdentityModule.Problem(400, "Link not accepted", MagicLinks.Refused, "link-refused"))
            .AllowAnonymous()
            .RequireRateLimiting(IdentityModule.RateLimitPolicy)
            .WithName("UseSignInLink")
            .WithSummary("Signs in with the token of an e-mailed link, from the browser that asked for it.");

        group.MapPost("/password/reset", async (LinkRequest input, MagicLinks links, CancellationToken ct) =>
            {
                await links.RequestAsync(input.Email, MagicLinks.Reset, ct);
                return Results.Text(MagicLinks.Accepted, "application/json", System.Text.Encoding.UTF8, StatusCodes.Status202Accepted);
            })
            .AllowAnonymous()
            .RequireRateLimiting(IdentityModule.RateLimitPolicy)
            .WithName("RequestPasswordReset")
            .WithSummary("E-mails a single-use password reset link (10 minutes, this browser only) if the e-mail has an account; the same answer and work either way.");

        group.MapPost("/password/reset/complete", async (ResetComplete input, MagicLinks links, CancellationToken ct) =>
                await links.ResetPasswordAsync(input.Token, input.Password, ct) switch
                {
                    (true, _) => Results.NoContent(),
                    (false, var problem) => IdentityModule.Problem(400, "Password not reset", problem!, "reset-refused"),
                })
            .AllowAnonymous()
            .RequireRateLimiting(IdentityModule.RateLimitPolicy)
            .WithName("CompletePasswordReset")
            .WithSummary("Sets a new password with the token of a reset link, from the browser that asked for it; every session of the account ends.");

        group.MapPost("/password", async (PasswordChange input, ClaimsPrincipal principal, AccountSelf self) =>
                await self.ChangePasswordAsync(principal, input.Current, input.New) is { } problem
                    ? IdentityModule.Problem(400, "Password not changed", problem, "password-refused")
                    : Results.NoContent())
            .RequireAuthorization()
            .WithName("ChangePassword")
            .WithSummary("Changes the password (the current one is needed); other sessions end.");

        // Sessions and devices.
        group.MapGet("/sessions", async (ClaimsPrincipal principal, DeviceSessions sessions, CancellationToken ct) =>
            {
                var account = AccountId(principal);
                var current = DeviceSessions.Current(principal);
                var list = await sessions.ListAsync(account, ct);
                return TypedResults.Ok(list.Select(s => new SessionView(s.Id, s.UserAgent, s.Ip, s.Country, s.Method, s.CreatedAt, s.LastSeenAt, s.Id == current)));
            })
            .RequireAuthorization()
            .WithName("ListSessions")
            .WithSummary("The account's signed-in sessions (devices): user agent summary, IP, country, created, last seen, which is this one.");

        group.MapDelete("/sessions/{id:guid}", async (Guid id, ClaimsPrincipal principal, AccountSelf self, CancellationToken ct) =>
                await self.RevokeSessionAsync(principal, id, ct) ? Results.NoContent() : Results.NotFound())
            .RequireAuthorization()
            .WithName("RevokeSession")
            .WithSummary("Revokes one session: its cookie stops working at once.");

        group.MapPost("/sessions/revoke-others", async (ClaimsPrincipal principal, AccountSelf self, CancellationToken ct) =>
                TypedResults.Ok(new { revoked = await self.RevokeOthersAsync(principal, ct) }))
            .RequireAuthorization()
            .WithName("RevokeOtherSessions")
            .WithSummary("Revokes every session of the account but this one.");

        // Household profiles.
        group.MapGet("/profiles", async (ClaimsPrincipal principal, Profiles profiles, CancellationToken ct) =>
                TypedResults.Ok((await profiles.ListAsync(AccountId(principal), ct)).Select(ProfileView.Of)))
            .RequireAuthorization()
            .WithName("ListProfiles")
            .WithSummary("The account's household profiles.");

        group.MapPost("/profiles", async (ProfileInput input, ClaimsPrincipal principal, Profiles profiles, CancellationToken ct) =>
                await profiles.CreateAsync(AccountId(principal), input, ct) switch
                {
                    ({ } p, _) => (IResult)TypedResults.Created($"/api/identity/profiles/{p.Id}", ProfileView.Of(p)),
                    (null, var errors) => TypedResults.ValidationProblem(errors),
                })
            .RequireAuthorization()
            .WithName("CreateProfile")
            .WithSummary("Creates a profile (at most 5 per account, one kids profile): name, kids, maturity limit (0, 7, 12, 16, 18 or none), PIN (4-8 digits), language.")
            .ProducesValidationProblem();

        group.MapPut("/profiles/{id:guid}", async (Guid id, ProfileInput input, ClaimsPrincipal principal, Profiles profiles, CancellationToken ct) =>
                await profiles.UpdateAsync(AccountId(principal), id, input, ct) switch
                {
                    (false, _) => Results.NotFound(),
                    (true, { Count: > 0 } errors) => TypedResults.ValidationProblem(errors),
                    _ => Results.NoContent(),
                })
            .RequireAuthorization()
            .WithName("UpdateProfile")
            .WithSummary("Changes a profile (a PIN of \"\" removes it; no PIN keeps it).")
            .ProducesValidationProblem();

        group.MapDelete("/profiles/{id:guid}", async (Guid id, ClaimsPrincipal principal, Profiles profiles, CancellationToken ct) =>
                await profiles.DeleteAsync(AccountId(principal), id, ct) ? Results.NoContent() : Results.NotFound())
            .RequireAuthorization()
            .WithName("DeleteProfile")
            .WithSummary("Deletes a profile.");

        group.MapPost("/profiles/{id:guid}/select", async (Guid id, ProfileSelect? input, ClaimsPrincipal principal, Profiles profiles, CancellationToken ct) =>
                await profiles.SelectAsync(principal, id, input?.Pin, ct)
                    ? Results.NoContent()
                    : IdentityModule.Problem(403, "Profile not selected", "That profile is not yours, or the PIN is wrong.", "profile-refused"))
            .RequireAuthorization()
            .RequireRateLimiting(IdentityModule.RateLimitPolicy)
            .WithName("SelectProfile")
            .WithSummary("Makes a profile the active one of this session (renews the cookie); its PIN when it has one.");

        // Profile and deletion.
        group.MapPut("/profile", async (ProfileChange input, ClaimsPrincipal principal, AccountSelf self) =>
                await self.SetDisplayNameAsync(principal, input.DisplayName) is { } problem
                    ? IdentityModule.Problem(400, "Profile not changed", problem, "profile-refused")
                    : Results.NoContent())
            .RequireAuthorization()
            .WithName("SetDisplayName")
            .WithSummary("Sets the account's display name (1-100 characters, or empty for none).");

        group.MapPost("/deletion", async (ErasureConfirm? input, ClaimsPrincipal principal, AccountSelf self, CancellationToken ct) =>
                await self.RequestDeletionAsync(principal, input?.Password, ct) switch
                {
                    (var deleteAfter, null) => Results.Ok(new { deleteAfter }),
                    (_, var problem) => IdentityModule.Problem(400, "Account not marked for deletion", problem, "deletion-refused"),
                })
            .RequireAuthorization()
            .RequireRateLimiting(IdentityModule.RateLimitPolicy)
            .WithName("RequestAccountDeletion")
            .WithSummary("Marks the account for deletion after the grace period (Marquee:Identity:DeletionGracePeriod) and signs out everywhere; an account with a password re-confirms it ({\"password\"}); signing in again and cancelling keeps it.");

        group.MapGet("/export", async (ClaimsPrincipal principal, PersonalDataExport export, CancellationToken ct) =>
                TypedResults.Json(await export.ExportAsync(AccountId(principal), ct), PrivacyJson.Options))
            .RequireAuthorization()
            .WithName("ExportAccountData")
            .WithSummary("Everything Marquee holds about the signed-in account, one section per module (GDPR access and portability).");

        group.MapPost("/erasure", async (ErasureConfirm? input, ClaimsPrincipal principal, AccountErasureRequests erasure, CancellationToken ct) =>
                await erasure.EraseSelfAsync(principal, input?.Password, ct) is { } problem
                    ? IdentityModule.Problem(400, "Account not erased", problem, "erasure-refused")
                    : Results.NoContent())
            .RequireAuthorization()
            .RequireRateLimiting(IdentityModule.RateLimitPolicy)
            .WithName("EraseAccount")
            .WithSummary("Erases the signed-in account now, without the grace period (the password re-confirmed); every module erases or pseudonymises its part through the outbox.");

        // Data-subject requests handled by an admin (the subject's identity checked outside Marquee).
        var subjects = group.MapGroup("/subjects").RequireAuthorization(Policies.ConsoleAdmin).WithTags("Identity: data-subject requests");
        subjects.MapGet("/{id:guid}/export", async (Guid id, PersonalDataExport export, IdentityDb db, CancellationToken ct) =>
                await db.Accounts.AnyAsync(a => a.Id == id, ct)
                    ? Results.Json(await export.ExportAsync(id, ct), PrivacyJson.Options)
                    : Results.NotFound())
            .WithName("ExportSubjectData")
            .WithSummary("An account's data export, as the account itself would get it (admins).");

        subjects.MapPost("/{id:guid}/erasure", async (Guid id, AccountErasureRequests erasure, IAuditLog audit, HttpContext http, CancellationToken ct) =>
            {
                if (!await erasure.EraseAsync(id, ct))
                {
                    return Results.NotFound();
                }

                var actor = RequestActor.Of(http);
                await audit.RecordAsync(new AuditRecord(actor.Name, "identity.subject-erased", "account:erased", actor.From), ct);
                return Results.NoContent();
            })
            .WithName("EraseSubject")
            .WithSummary("Erases an account now, without the grace period (admins, for a data-subject request).");

        group.MapDelete("/deletion", async (ClaimsPrincipal principal, AccountSelf self, CancellationToken ct) =>
                await self.CancelDeletionAsync(principal, ct) ? Results.NoContent() : Results.NotFound())
            .RequireAuthorization()
            .WithName("CancelAccountDeletion")
            .WithSummary("Cancels a pending deletion of the account.");
    }

    public static Guid AccountId(ClaimsPrincipal principal) => Guid.Parse(principal.FindFirstValue(ClaimTypes.NameIdentifier)!);
}

internal sealed record PasskeyAdd(string? Credential, string? Name);

internal sealed record PasskeyRename(string? Name);

internal sealed record PasskeySignIn(string? Credential);

internal sealed record ProfileSelect(string? Pin);

internal sealed record LinkRequest(string? Email);

internal sealed record LinkUse(string? Token);

internal sealed record ResetComplete(string? Token, string? Password);

internal sealed record PasswordChange(string? Current, string? New);

internal sealed record ProfileChange(string? DisplayName);

internal sealed record SessionView(Guid Id, string? Device, string? Ip, string? Country, string? Method, DateTimeOffset CreatedAt, DateTimeOffset LastSeenAt, bool Current);

internal sealed record PasskeyView(string Id, string? Name, DateTimeOffset CreatedAt);
