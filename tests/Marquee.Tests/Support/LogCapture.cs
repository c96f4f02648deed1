using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Marquee.Tests.Support;

/// <summary>
/// A logging provider for a test host that keeps every log line the app writes, at every level and in every category
/// (its own filter rule: Trace, whatever the host's configuration lets through to the console): the formatted message,
/// each structured value of its state, the values of the scopes around it, and the exception. What an operator would
/// see in the console or ship to a log store, and more.
/// </summary>
public sealed class LogCapture : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<string> lines = new();
    private IExternalScopeProvider scopes = new LoggerExternalScopeProvider();

    public IReadOnlyCollection<string> Lines => lines;

    /// <summary>Adds this provider to a host's services, with a rule that lets every level of every category through to it.</summary>
    public void AddTo(IServiceCollection services)
    {
        services.AddSingleton<ILoggerProvider>(this);
        services.Configure<LoggerFilterOptions>(o => o.Rules.Add(new LoggerFilterRule(typeof(LogCapture).FullName, null, LogLevel.Trace, null)));
    }

    /// <summary>The lines that hold any of these texts (compared without case), for a report.</summary>
    public List<string> Holding(IEnumerable<string> texts)
    {
        var needles = texts.Where(t => !string.IsNullOrEmpty(t)).ToList();
        return [.. lines.Where(l => needles.Any(n => l.Contains(n, StringComparison.OrdinalIgnoreCase)))];
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => scopes = scopeProvider;

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => owner.scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = new StringBuilder().Append(logLevel).Append(' ').Append(category).Append('[').Append(eventId.Id).Append("]: ").Append(formatter(state, exception));
            Values(line, " state", state);
            owner.scopes.ForEachScope((scope, b) => Values(b, " scope", scope), line);
            if (exception is not null)
            {
                line.Append(" exception: ").Append(exception);
            }

            owner.lines.Enqueue(line.ToString());
        }

        private static void Values(StringBuilder line, string what, object? value)
        {
            if (value is IEnumerable<KeyValuePair<string, object?>> pairs)
            {
                foreach (var (key, v) in pairs)
                {
                    line.Append(what).Append(' ').Append(key).Append('=').Append(v is System.Collections.IEnumerable e and not string ? string.Join(",", e.Cast<object?>()) : v);
                }
            }
            else if (value is not null)
            {
                line.Append(what).Append('=').Append(value);
            }
        }
    }
}
