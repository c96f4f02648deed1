using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;

namespace Marquee.Platform.Events;

/// <summary>
/// Maps event wire names to types, from the <see cref="EventNameAttribute"/> on every <see cref="IDomainEvent"/>
/// in the program (and any event type a handler is registered for).
/// </summary>
internal static class EventRegistry
{
    internal static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private static readonly ConcurrentDictionary<string, Type> ByName = Scan();

    public static string NameOf(Type type) =>
        type.GetCustomAttribute<EventNameAttribute>()?.Name
        ?? throw new InvalidOperationException($"Domain event {type.FullName} has no [EventName].");

    public static Type? TypeOf(string name) => ByName.GetValueOrDefault(name);

    public static IReadOnlyCollection<string> Names => [.. ByName.Keys];

    public static void Register(Type type)
    {
        var name = NameOf(type);
        var existing = ByName.GetOrAdd(name, type);
        if (existing != type)
        {
            throw new InvalidOperationException($"Event name '{name}' is used by {existing.FullName} and {type.FullName}.");
        }
    }

    private static ConcurrentDictionary<string, Type> Scan()
    {
        var map = new ConcurrentDictionary<string, Type>(StringComparer.Ordinal);
        foreach (var type in typeof(EventRegistry).Assembly.GetTypes()
                     .Where(t => typeof(IDomainEvent).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false }))
        {
            var name = NameOf(type);
            if (!map.TryAdd(name, type))
            {
                throw new InvalidOperationException($"Event name '{name}' is used by {map[name].FullName} and {type.FullName}.");
            }
        }

        return map;
    }
}
