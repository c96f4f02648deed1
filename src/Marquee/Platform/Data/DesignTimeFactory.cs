using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Marquee.Platform.Data;

/// <summary>
/// Lets <c>dotnet ef migrations add</c> build a module's provider-specific context without starting the program.
/// The connection strings are placeholders: adding a migration does not connect.
/// </summary>
internal abstract class DesignTimeFactory<TContext>(DatabaseProvider provider, string schema) : IDesignTimeDbContextFactory<TContext>
    where TContext : ModuleDbContext
{
    public TContext CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<TContext>();
        if (provider == DatabaseProvider.Sqlite)
        {
            builder.UseSqlite("Data Source=design-time.db", x => x.MigrationsHistoryTable($"{schema}___migrations"));
        }
        else
        {
            builder.UseNpgsql("Host=localhost;Database=design_time", x => x.MigrationsHistoryTable("__migrations", schema));
        }

        return (TContext)Activator.CreateInstance(typeof(TContext), builder.Options)!;
    }
}
