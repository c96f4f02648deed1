using System.Collections.Frozen;
using Marquee.Identity.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Marquee.Identity;

/// <summary>Lists embedded in the program (see <c>Data/lists/README.md</c> for their sources and licences).</summary>
internal static class EmbeddedLists
{
    public static readonly FrozenSet<string> CommonPasswords = Read("common-passwords-10k.txt");

    public static readonly FrozenSet<string> DisposableDomains = Read("disposable-email-domains.txt");

    private static FrozenSet<string> Read(string name)
    {
        using var stream = typeof(EmbeddedLists).Assembly.GetManifestResourceStream($"Marquee.Identity.{name}")
                           ?? throw new InvalidOperationException($"The embedded list {name} is missing from the build.");
        using var reader = new StreamReader(stream);
        var set = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        while (reader.ReadLine() is { } line)
        {
            if (line.Trim() is { Length: > 0 } item)
            {
                set.Add(item);
            }
        }

        return set.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    }
}

/// <summary>
/// Password rules in the spirit of NIST 800-63B: a minimum length (8 by default), a maximum of at least 64, no
/// composition rules, and not one of the commonly used passwords shipped with the program, nor the e-mail itself.
/// </summary>
internal sealed class PasswordRules(IOptions<AccountOptions> options) : IPasswordValidator<Account>
{
    public Task<IdentityResult> ValidateAsync(UserManager<Account> manager, Account user, string? password) =>
        Task.FromResult(Check(password, user.Email) is { } problem
            ? IdentityResult.Failed(new IdentityError { Code = "PasswordRules", Description = problem })
            : IdentityResult.Success);

    /// <summary>Null when the password is acceptable, else the reason in words a person can act on.</summary>
    public string? Check(string? password, string? email)
    {
        var o = options.Value;
        if (string.IsNullOrEmpty(password) || password.Length < o.PasswordMinLength)
        {
            return $"Use at least {o.PasswordMinLength} characters; a few words in a row make a strong password.";
        }

        if (password.Length > o.PasswordMaxLength)
        {
            return $"Use at most {o.PasswordMaxLength} characters.";
        }

        if (EmbeddedLists.CommonPasswords.Contains(password))
        {
            return "That password is one of the most common ones, which attackers try first. Choose another.";
        }

        if (email is not null && string.Equals(password, email, StringComparison.OrdinalIgnoreCase))
        {
            return "The password must not be your e-mail address.";
        }

        return null;
    }
}
