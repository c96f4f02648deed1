using System.Security.Claims;
using Marquee.Delivery.Contracts;
using Marquee.Identity.Contracts;
using Marquee.Identity.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Identity;

/// <summary>What a signed-in holder does to their own account: password, display name, sessions, deletion.</summary>
internal sealed class AccountSelf(
    IdentityDb db,
    UserManager<Account> users,
    SignInManager<Account> signIn,
    SignInFlow flow,
    DeviceSessions sessions,
    IOptions<AccountOptions> options,
    TimeProvider clock,
    IUserStore<Account> store)
{
    /// <summary>
    /// The key to enrol an authenticator app with (MFA off), made the first time it is shown. Made through the store, not
    /// <see cref="UserManager{TUser}.ResetAuthenticatorKeyAsync"/>, which also renews the security stamp: merely opening the
    /// account page then signed out every other session of the account at its next stamp check (within 30 minutes, found
    /// by the R31 crawls). A key not yet confirmed by a code protects nothing, so nothing needs to end; turning MFA on or
    /// off still renews the stamp.
    /// </summary>
    public async Task<string?> EnrolmentKeyAsync(Account user)
    {
        var key = await users.GetAuthenticatorKeyAsync(user);
        if (!string.IsNullOrEmpty(key))
        {
            return key;
        }

        await ((IUserAuthenticatorKeyStore<Account>)store).SetAuthenticatorKeyAsync(user, users.GenerateNewAuthenticatorKey(), CancellationToken.None);
        var result = await users.UpdateAsync(user);
        return result.Succeeded ? await users.GetAuthenticatorKeyAsync(user) : throw new InvalidOperationException(Accounts.Describe(result));
    }

    /// <summary>Null when changed, else the reason. Other sessions end; this one goes on.</summary>
    public async Task<string?> ChangePasswordAsync(ClaimsPrincipal principal, string? current, string? next)
    {
        if (await users.GetUserAsync(principal) is not { } user)
        {
            return "Sign in again.";
        }

        var result = await users.ChangePasswordAsync(user, current ?? "", next ?? "");
        if (!result.Succeeded)
        {
            return result.Errors.Any(e => e.Code == nameof(IdentityErrorDescriber.PasswordMismatch))
                ? "The current password is not right."
                : Accounts.Describe(result);
        }

        await sessions.RevokeAllAsync(user.Id, DeviceSessions.Current(principal), CancellationToken.None);
        await signIn.RefreshSignInAsync(user);
        await flow.PublishAsync(user, SecurityEventKind.PasswordChanged, null);
        return null;
    }

    public async Task<string?> SetDisplayNameAsync(ClaimsPrincipal principal, string? name)
    {
        if (await users.GetUserAsync(principal) is not { } user)
        {
            return "Sign in again.";
        }

        name = name?.Trim();
        if (name is { Length: > 100 })
        {
            return "Use at most 100 characters.";
        }

        user.DisplayName = string.IsNullOrEmpty(name) ? null : name;
        var result = await users.UpdateAsync(user);
        return result.Succeeded ? null : Accounts.Describe(result);
    }

    public async Task<bool> RevokeSessionAsync(ClaimsPrincipal principal, Guid id, CancellationToken cancellationToken)
    {
        var account = AccountApi.AccountId(principal);
        if (!await sessions.RevokeAsync(account, id, cancellationToken))
        {
            return false;
        }

        if (await users.GetUserAsync(principal) is { } user)
        {
            await flow.PublishAsync(user, SecurityEventKind.SessionRevoked, id.ToString());
        }

        return true;
    }

    public async Task<int> RevokeOthersAsync(ClaimsPrincipal principal, CancellationToken cancellationToken)
    {
        var count = await sessions.RevokeAllAsync(AccountApi.AccountId(principal), DeviceSessions.Current(principal), cancellationToken);
        if (count > 0 && await users.GetUserAsync(principal) is { } user)
        {
            await flow.PublishAsync(user, SecurityEventKind.SessionRevoked, $"{count} other session(s)");
        }

        return count;
    }

    /// <summary>
    /// Marks the account for deletion after the grace period, ends every session and signs out: when it will be erased,
    /// or the reason it was refused (nothing changed). An account with a password re-confirms it (re-authentication,
    /// ASVS 6.x/7.5: an open or stolen session alone does not delete the account; <c>POST /api/identity/erasure</c> asks
    /// the same). An account without one (external sign-in, passkeys or sign-in links only) has nothing to re-confirm:
    /// its session asks, and the grace period, in which signing in again keeps the account, is its safety net.
    /// </summary>
    public async Task<(DateTimeOffset? DeleteAfter, string? Problem)> RequestDeletionAsync(ClaimsPrincipal principal, string? password, CancellationToken cancellationToken)
    {
        if (await users.GetUserAsync(principal) is not { } user)
        {
            return (null, "Sign in again.");
        }

        if (await users.HasPasswordAsync(user) && (string.IsNullOrEmpty(password) || !await users.CheckPasswordAsync(user, password)))
        {
            return (null, "The password is not right. Your account is not deleted.");
        }

        var now = clock.GetUtcNow();
        user.DeletionRequestedAt ??= now;
        user.DeleteAfter ??= now + options.Value.DeletionGracePeriod;
        db.Publish(new SecurityEvent(user.Id, SecurityEventKind.DeletionRequested, user.Email ?? "", null, now, $"erased after {user.DeleteAfter:u}"));
        var result = await users.UpdateAsync(user); // saves the event with the change
        if (!result.Succeeded)
        {
            throw new InvalidOperationException(Accounts.Describe(result));
        }

        await sessions.RevokeAllAsync(user.Id, keep: null, cancellationToken);
        await signIn.SignOutAsync();
        return (user.DeleteAfter, null);
    }

    /// <summary>Whether deleting the account asks for its password (it has one).</summary>
    public async Task<bool> DeletionNeedsPasswordAsync(ClaimsPrincipal principal) =>
        await users.GetUserAsync(principal) is { } user && await users.HasPasswordAsync(user);

    public async Task<bool> CancelDeletionAsync(ClaimsPrincipal principal, CancellationToken cancellationToken)
    {
        if (await users.GetUserAsync(principal) is not { DeleteAfter: not null } user)
        {
            return false;
        }

        user.DeletionRequestedAt = null;
        user.DeleteAfter = null;
        db.Publish(new SecurityEvent(user.Id, SecurityEventKind.DeletionCancelled, user.Email ?? "", null, clock.GetUtcNow()));
        return (await users.UpdateAsync(user)).Succeeded;
    }
}

/// <summary>Erases accounts whose deletion grace period is over (<see cref="AccountEraser"/>: each with an <see cref="AccountDeleted"/> event in the same transaction).</summary>
internal sealed class AccountDeletions(IdentityDb db, AccountEraser eraser, TimeProvider clock)
{
    public async Task<int> SweepAsync(int batch, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var due = (await db.Accounts.Where(a => a.DeleteAfter != null).ToListAsync(cancellationToken))
            .Where(a => a.DeleteAfter <= now).Take(batch).ToList();
        foreach (var account in due)
        {
            await eraser.EraseAsync(account, cancellationToken);
        }

        return due.Count;
    }
}

/// <summary>Runs <see cref="AccountDeletions"/> every <see cref="AccountOptions.DeletionSweepInterval"/> (worker role).</summary>
internal sealed class AccountDeletionSweeper(IServiceScopeFactory scopes, IOptions<AccountOptions> options, TimeProvider time, ILogger<AccountDeletionSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using (var scope = scopes.CreateAsyncScope())
                {
                    var erased = await scope.ServiceProvider.GetRequiredService<AccountDeletions>().SweepAsync(100, stoppingToken);
                    if (erased > 0)
                    {
                        logger.LogInformation("Erased {Count} account(s) after their deletion grace period", erased);
                    }
                }

                await Task.Delay(options.Value.DeletionSweepInterval, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A failed sweep (database briefly unavailable) is retried at the next tick.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                logger.LogWarning(ex, "Sweeping accounts due for deletion failed; retrying");
                await Task.Delay(TimeSpan.FromSeconds(30), time, stoppingToken);
            }
        }
    }
}

/// <summary>
/// The concurrent stream limit per account (<c>Marquee:Identity:MaxConcurrentStreams</c>, 4 by default; the plan's
/// value once Billing lands), counting the account's live playback sessions through Delivery's contract.
/// </summary>
internal sealed class StreamLimitPolicy(IServiceProvider services, IOptions<AccountOptions> options) : IPlaybackPolicy
{
    public async Task<PlaybackDecision> EvaluateAsync(PlaybackRequest request, CancellationToken cancellationToken)
    {
        var live = services.GetService<IPlaybackSessions>();
        if (!request.SignedIn || live is null || request.AccountId == PlaybackViewers.LocalOperatorAccountId)
        {
            return PlaybackDecision.Allow();
        }

        var limit = options.Value.MaxConcurrentStreams;
        return await live.CountLiveAsync(request.AccountId, cancellationToken) >= limit
            ? PlaybackDecision.Refuse($"Your account is already playing on {limit} screen{(limit == 1 ? "" : "s")}, its limit. Stop one of them, then try again.")
            : PlaybackDecision.Allow();
    }
}
