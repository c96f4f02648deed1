using Marquee.Platform.Hosting;
using Marquee.Platform.Web;

namespace Marquee.Identity;

/// <summary>
/// <c>marquee demo</c>: a demo admin and a demo viewer, created when absent, with new random passwords at every start,
/// printed once on the console (they are stored only as hashes).
/// </summary>
internal sealed class IdentityDemo(Accounts accounts) : IDemoContent
{
    public const string AdminEmail = "admin@demo.marquee.test";
    public const string ViewerEmail = "viewer@demo.marquee.test";

    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        await accounts.EnsureRolesAsync(cancellationToken);
        var lines = new List<string>();
        foreach (var (email, role) in new[] { (AdminEmail, Roles.Admin), (ViewerEmail, Roles.Viewer) })
        {
            var password = Accounts.RandomPassword();
            if (await accounts.FindAsync(email) is { } existing)
            {
                if (await accounts.ResetPasswordAsync(existing, password) is { } problem)
                {
                    throw new InvalidOperationException(problem);
                }

                await accounts.AddRolesAsync(existing, [role]);
            }
            else
            {
                var (_, problem) = await accounts.CreateAsync(email, password, [role], cancellationToken);
                if (problem is not null)
                {
                    throw new InvalidOperationException(problem);
                }
            }

            lines.Add($"  {role,-7} {email}  password: {password}");
        }

        await Console.Out.WriteLineAsync("Demo accounts (new passwords at every start of the demo):" + Environment.NewLine + string.Join(Environment.NewLine, lines));
    }
}
