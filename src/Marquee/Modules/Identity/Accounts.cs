using System.Security.Cryptography;
using Marquee.Identity.Data;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Identity;

/// <summary>Accounts and roles as the command line, the demo and the sign-up see them.</summary>
internal sealed class Accounts(UserManager<Account> users, RoleManager<Role> roles, IdentityDb db, TimeProvider clock)
{
    /// <summary>Creates the roles that do not exist yet (idempotent).</summary>
    public async Task EnsureRolesAsync(CancellationToken cancellationToken)
    {
        foreach (var name in Roles.All)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!await roles.RoleExistsAsync(name))
            {
                Throw(await roles.CreateAsync(new Role { Id = Guid.NewGuid(), Name = name }));
            }
        }
    }

    public Task<Account?> FindAsync(string email) => users.FindByEmailAsync(email.Trim());

    /// <summary>Creates an account with a password and roles; the error says why not (a taken e-mail, a weak password).</summary>
    public async Task<(Account? Account, string? Problem)> CreateAsync(string email, string password, IEnumerable<string> roleNames, CancellationToken cancellationToken)
    {
        await EnsureRolesAsync(cancellationToken);
        email = email.Trim();
        if (!new System.ComponentModel.DataAnnotations.EmailAddressAttribute().IsValid(email) || email.Length > 256)
        {
            return (null, $"'{email}' is not an e-mail address.");
        }

        var account = NewAccount(email);
        var created = await users.CreateAsync(account, password);
        if (!created.Succeeded)
        {
            return (null, Describe(created));
        }

        Throw(await users.AddToRolesAsync(account, roleNames));
        return (account, null);
    }

    /// <summary>Gives an existing account a new password (the demo accounts at each start).</summary>
    public async Task<string?> ResetPasswordAsync(Account account, string password)
    {
        var token = await users.GeneratePasswordResetTokenAsync(account);
        var result = await users.ResetPasswordAsync(account, token, password);
        if (result.Succeeded)
        {
            await users.SetLockoutEndDateAsync(account, null);
            await users.ResetAccessFailedCountAsync(account);
        }

        return result.Succeeded ? null : Describe(result);
    }

    public async Task AddRolesAsync(Account account, IEnumerable<string> roleNames)
    {
        var missing = new List<string>();
        foreach (var r in roleNames)
        {
            if (!await users.IsInRoleAsync(account, r))
            {
                missing.Add(r);
            }
        }

        if (missing.Count > 0)
        {
            Throw(await users.AddToRolesAsync(account, missing));
        }
    }

    public async Task<int> CountAsync(CancellationToken cancellationToken) => await db.Accounts.CountAsync(cancellationToken);

    public Account NewAccount(string email) => new()
    {
        Id = Guid.CreateVersion7(clock.GetUtcNow()),
        Email = email,
        UserName = email,
        EmailConfirmed = true,
        CreatedAt = clock.GetUtcNow(),
        LockoutEnabled = true,
    };

    /// <summary>A random password of 20 letters and digits (about 119 bits), for generated accounts.</summary>
    public static string RandomPassword() =>
        RandomNumberGenerator.GetString("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", 20);

    public static string Describe(IdentityResult result) => string.Join(" ", result.Errors.Select(e => e.Description));

    private static void Throw(IdentityResult result)
    {
        if (!result.Succeeded)
        {
            throw new InvalidOperationException(Describe(result));
        }
    }
}
