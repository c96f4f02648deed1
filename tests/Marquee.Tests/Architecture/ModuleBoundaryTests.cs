using System.Reflection;
using Marquee.Platform.Hosting;
using Microsoft.AspNetCore.Components;
using NetArchTest.Rules;

namespace Marquee.Tests.Architecture;

/// <summary>
/// Modules talk only through each other's <c>Contracts</c> namespace; their internals and data contexts are theirs alone.
/// </summary>
[Trait("Category", "ProviderFree")] // nothing here depends on the database provider: the SQLite pass only
public sealed class ModuleBoundaryTests
{
    private static readonly Assembly Program = typeof(MarqueeHost).Assembly;

    /// <summary>Every module is a folder and a namespace <c>Marquee.&lt;Name&gt;</c> with a <c>&lt;Name&gt;Module</c> entry class.</summary>
    public static TheoryData<string> Modules()
    {
        var data = new TheoryData<string>();
        foreach (var name in ModuleNames())
        {
            data.Add(name);
        }

        return data;
    }

    private static IEnumerable<string> ModuleNames() => Program.GetTypes()
        .Where(t => t is { IsPublic: true, IsAbstract: true, IsSealed: true } && t.Name.EndsWith("Module", StringComparison.Ordinal)
                    && t.Namespace == $"Marquee.{t.Name[..^"Module".Length]}")
        .Select(t => t.Name[..^"Module".Length])
        .Order();

    /// <summary>A module's internals: every type of its namespace except its contracts and its entry class.</summary>
    private static string[] InternalsOf(string module) => Program.GetTypes()
        .Where(t => t.Namespace is { } ns
                    && (ns == $"Marquee.{module}" || ns.StartsWith($"Marquee.{module}.", StringComparison.Ordinal))
                    && !ns.StartsWith($"Marquee.{module}.Contracts", StringComparison.Ordinal)
                    && t.Name != $"{module}Module"
                    && !t.Name.StartsWith('<'))
        .Select(t => t.FullName!.Split('`')[0])
        .Distinct()
        .ToArray();

    /// <summary>Types outside <paramref name="module"/> (in the given assembly and namespace) that use its internals.</summary>
    internal static IReadOnlyList<string> Violations(Assembly assembly, string module, string? onlyNamespace = null)
    {
        var forbidden = InternalsOf(module);
        var types = Types.InAssembly(assembly).That().DoNotResideInNamespace($"Marquee.{module}");
        if (onlyNamespace is not null)
        {
            types = Types.InAssembly(assembly).That().ResideInNamespace(onlyNamespace);
        }

        var result = types.ShouldNot().HaveDependencyOnAny(forbidden).GetResult();
        return result.IsSuccessful ? [] : [.. result.FailingTypeNames ?? []];
    }

    [Fact]
    public void Modules_WhenDiscovered_IncludeTheStartedOnes()
    {
        Assert.Equal(["Analytics", "Billing", "Catalog", "Compliance", "Delivery", "Identity", "Media", "Rights"], ModuleNames().ToArray());
    }

    [Theory]
    [MemberData(nameof(Modules))]
    public void ModuleInternals_WhenUsedOutsideTheModule_FailTheBuild(string module)
    {
        Assert.NotEmpty(InternalsOf(module));
        Assert.Empty(Violations(Program, module));
    }

    [Fact]
    public void BoundaryRule_WhenCodeReachesIntoAnotherModulesDataContext_FlagsIt()
    {
        // Negative control: the rule above can fail.
        var violations = Violations(typeof(ModuleBoundaryTests).Assembly, "Catalog", "Marquee.Tests.Architecture.Fixtures");

        Assert.Contains("Marquee.Tests.Architecture.Fixtures.ReachesIntoCatalog", violations);
        Assert.DoesNotContain("Marquee.Tests.Architecture.Fixtures.UsesCatalogContract", violations);
    }

    [Theory]
    [MemberData(nameof(Modules))]
    public void ModuleTypes_WhenPublic_AreContractsEntryOrComponents(string module)
    {
        var exposed = Program.GetTypes()
            .Where(t => t.IsVisible && t.Namespace is { } ns
                        && (ns == $"Marquee.{module}" || ns.StartsWith($"Marquee.{module}.", StringComparison.Ordinal))
                        && !ns.StartsWith($"Marquee.{module}.Contracts", StringComparison.Ordinal)
                        && t.Name != $"{module}Module"
                        && !typeof(IComponent).IsAssignableFrom(t) // Razor components are public by construction
                        && t.Name != "_Imports") // and so is the class Razor generates for _Imports.razor
            .Select(t => t.FullName)
            .ToList();

        Assert.Empty(exposed);
    }

    [Theory]
    [MemberData(nameof(Modules))]
    public void ModuleContracts_WhenCompiled_DependOnNoOtherModulesInternals(string module)
    {
        foreach (var other in ModuleNames().Where(m => m != module))
        {
            var result = Types.InAssembly(Program).That().ResideInNamespace($"Marquee.{module}.Contracts")
                .ShouldNot().HaveDependencyOnAny(InternalsOf(other)).GetResult();
            Assert.True(result.IsSuccessful, string.Join(", ", result.FailingTypeNames ?? []));
        }
    }

    [Fact]
    public void Platform_WhenCompiled_DependsOnNoModuleBeyondItsEntryClass()
    {
        foreach (var module in ModuleNames())
        {
            Assert.Empty(Violations(Program, module, "Marquee.Platform"));
        }
    }
}
