using Marquee.Platform.Events;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Platform.Data;

/// <summary>Implemented by a module's data context: the module's schema (PostgreSQL) or table prefix (SQLite).</summary>
public interface IModuleDb
{
    static abstract string SchemaName { get; }
}

/// <summary>A module's data context as the platform sees it: for migrations, health checks and outbox delivery.</summary>
public sealed record ModuleDatabase(string Schema, Type ContextType);

public static class ModuleDatabaseRegistration
{
    /// <summary>
    /// Registers a module's data context for the configured provider. <typeparamref name="TSqlite"/> and
    /// <typeparamref name="TPostgres"/> are the provider-specific subclasses that own each provider's migration set.
    /// </summary>
    public static IServiceCollection AddModuleDb<TContext, TSqlite, TPostgres>(this IServiceCollection services, IConfiguration configuration)
        where TContext : ModuleDbContext, IModuleDb
        where TSqlite : TContext
        where TPostgres : TContext
    {
        var settings = DatabaseSettings.From(configuration);
        var schema = TContext.SchemaName;
        // The options are built once per host (singleton), not once per scope: every request, handler and dispatch pass
        // creates contexts, and rebuilding the options each time was a visible share of their cost.
        if (settings.Provider == DatabaseProvider.Sqlite)
        {
            services.AddDbContext<TContext, TSqlite>((sp, o) => o
                .UseSqlite(settings.ConnectionString, x => x.MigrationsHistoryTable($"{schema}___migrations"))
                .AddInterceptors(sp.GetRequiredService<OutboxSignalInterceptor>(), SqliteSecureDelete.Instance),
                optionsLifetime: ServiceLifetime.Singleton);
        }
        else
        {
            var options = configuration.GetSection(DatabaseOptions.Section).Get<DatabaseOptions>() ?? new DatabaseOptions();
            var retries = Math.Clamp(options.MaxRetryCount, 0, 20);
            var delay = options.MaxRetryDelay < TimeSpan.Zero ? TimeSpan.Zero : options.MaxRetryDelay;
            services.AddDbContext<TContext, TPostgres>((sp, o) => o
                .UseNpgsql(settings.ConnectionString, x =>
                {
                    x.MigrationsHistoryTable("__migrations", schema);
                    if (retries > 0)
                    {
                        x.ExecutionStrategy(d => new BoundedRetryStrategy(d, retries, delay));
                    }
                })
                .AddInterceptors(sp.GetRequiredService<OutboxSignalInterceptor>()),
                optionsLifetime: ServiceLifetime.Singleton);
        }

        services.AddSingleton(new ModuleDatabase(schema, typeof(TContext)));
        return services;
    }
}
