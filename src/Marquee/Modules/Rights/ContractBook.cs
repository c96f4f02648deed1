using System.ComponentModel.DataAnnotations;
using Marquee.Platform.Audit;
using Marquee.Platform.Web;
using Marquee.Rights.Contracts;
using Marquee.Rights.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Rights;

internal sealed record NewContact(
    [property: Required, StringLength(200, MinimumLength = 1)] string Name,
    [property: EmailAddress, StringLength(320)] string? Email = null,
    [property: StringLength(50)] string? Phone = null,
    [property: StringLength(100)] string? Role = null);

/// <summary>The body of <c>POST /api/rights/providers</c>.</summary>
internal sealed record NewProvider(
    [property: Required, StringLength(300, MinimumLength = 1)] string Name,
    [property: Required, RegularExpression("^(provider|rights-holder|both)$", ErrorMessage = "Kind is provider, rights-holder or both.")] string Kind,
    List<NewContact>? Contacts = null) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        (Contacts ?? []).SelectMany(c => Validation.Errors(c).SelectMany(e => e.Value.Select(m => new ValidationResult($"Contact '{c.Name}': {m}", [nameof(Contacts)]))));
}

internal sealed record ContactView(Guid Id, string Name, string? Email, string? Phone, string? Role);

internal sealed record ProviderView(Guid Id, string Name, string Kind, IReadOnlyList<ContactView> Contacts, DateTimeOffset CreatedAt)
{
    public static ProviderView Of(Provider p) => new(p.Id, p.Name, p.Kind, [.. p.Contacts.Select(c => new ContactView(c.Id, c.Name, c.Email, c.Phone, c.Role))], p.CreatedAt);
}

/// <summary>A contract's terms and fees: the body of a new contract and of a change of terms.</summary>
internal sealed record ContractTerms(
    [property: Required, StringLength(300, MinimumLength = 1)] string Name,
    [property: Required] FeeModel? FeeModel,
    [property: Required, RegularExpression("^[A-Z]{3}$", ErrorMessage = "Currency is an ISO 4217 code such as EUR.")] string Currency,
    [property: Required] PaymentSchedule? PaymentSchedule,
    [property: StringLength(20000)] string? Terms = null,
    [property: Range(typeof(decimal), "0", "1000000000")] decimal? FlatFee = null,
    [property: Range(typeof(decimal), "0", "1000000000")] decimal? MinimumGuarantee = null,
    [property: Range(typeof(decimal), "0", "100")] decimal? RevenueSharePercent = null,
    [property: Range(typeof(decimal), "0", "1000")] decimal? PerStreamRate = null) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        switch (FeeModel)
        {
            case Contracts.FeeModel.Flat when FlatFee is null:
                yield return new ValidationResult("A flat fee contract needs flatFee.", [nameof(FlatFee)]);
                break;
            case Contracts.FeeModel.RevenueShare when RevenueSharePercent is null:
                yield return new ValidationResult("A revenue share contract needs revenueSharePercent.", [nameof(RevenueSharePercent)]);
                break;
            case Contracts.FeeModel.MinimumGuarantee when RevenueSharePercent is null || MinimumGuarantee is null:
                yield return new ValidationResult("A minimum guarantee contract needs minimumGuarantee and revenueSharePercent.", [nameof(MinimumGuarantee)]);
                break;
            case Contracts.FeeModel.PerStream when PerStreamRate is null:
                yield return new ValidationResult("A per-stream contract needs perStreamRate.", [nameof(PerStreamRate)]);
                break;
        }
    }
}

internal sealed record NewContract([property: Required] Guid? ProviderId, [property: Required] ContractTerms? Contract);

internal sealed record Transition([property: Required] ContractStatus? To);

internal sealed record ContractView(
    Guid Id, Guid ProviderId, string Name, ContractStatus Status, string Terms, FeeModel FeeModel, string Currency, decimal? FlatFee,
    decimal? MinimumGuarantee, decimal? RevenueSharePercent, decimal? PerStreamRate, PaymentSchedule PaymentSchedule,
    int Version, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static ContractView Of(Contract c) => new(c.Id, c.ProviderId, c.Name, c.Status, c.Terms, c.FeeModel, c.Currency, c.FlatFee,
        c.MinimumGuarantee, c.RevenueSharePercent, c.PerStreamRate, c.PaymentSchedule, c.Version, c.CreatedAt, c.UpdatedAt);
}

internal sealed record HistoryView(int Sequence, DateTimeOffset At, string Actor, string Change, string PreviousHash, string Hash);

internal abstract record ContractOutcome
{
    public sealed record Done(ContractView Contract) : ContractOutcome;

    public sealed record NotFound : ContractOutcome;

    public sealed record Conflict(string Detail) : ContractOutcome;

    public sealed record Invalid(string Detail) : ContractOutcome;
}

/// <summary>Providers and contracts. Every change of a contract appends a hash-chained history entry in the same transaction and then the new head to the head file.</summary>
internal sealed class ContractBook(RightsDb db, ChainHeads heads, TimeProvider time)
{
    /// <summary>The moves a contract may make.</summary>
    public static readonly IReadOnlyDictionary<ContractStatus, ContractStatus[]> Moves = new Dictionary<ContractStatus, ContractStatus[]>
    {
        [ContractStatus.Draft] = [ContractStatus.Negotiation],
        [ContractStatus.Negotiation] = [ContractStatus.Draft, ContractStatus.Signed],
        [ContractStatus.Signed] = [ContractStatus.Active],
        [ContractStatus.Active] = [ContractStatus.Expired],
        [ContractStatus.Expired] = [],
    };

    public async Task<ProviderView> CreateProviderAsync(NewProvider input, RequestActor actor, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var provider = new Provider
        {
            Id = Guid.CreateVersion7(now),
            Name = input.Name.Trim(),
            Kind = input.Kind,
            CreatedAt = now,
            Contacts = [.. (input.Contacts ?? []).Select(c => new ProviderContact { Id = Guid.CreateVersion7(now), Name = c.Name.Trim(), Email = c.Email, Phone = c.Phone, Role = c.Role })],
        };
        db.Providers.Add(provider);
        db.Publish(new AuditRequested(new AuditRecord(actor.Name, "rights.provider-created", $"provider:{provider.Id}", actor.From, provider.Name), now));
        await db.SaveChangesAsync(cancellationToken);
        return ProviderView.Of(provider);
    }

    public async Task<IReadOnlyList<ProviderView>> ProvidersAsync(CancellationToken cancellationToken) =>
        [.. (await db.Providers.AsNoTracking().Include(p => p.Contacts).ToListAsync(cancellationToken)).OrderBy(p => p.Name, StringComparer.CurrentCultureIgnoreCase).Select(ProviderView.Of)];

    public async Task<IReadOnlyList<ContractView>> ListAsync(CancellationToken cancellationToken) =>
        [.. (await db.Contracts.AsNoTracking().ToListAsync(cancellationToken)).OrderByDescending(c => c.CreatedAt).Select(ContractView.Of)];

    public async Task<ContractView?> FindAsync(Guid id, CancellationToken cancellationToken) =>
        await db.Contracts.AsNoTracking().FirstOrDefaultAsync(c => c.Id == id, cancellationToken) is { } c ? ContractView.Of(c) : null;

    public async Task<IReadOnlyList<HistoryView>?> HistoryAsync(Guid id, CancellationToken cancellationToken)
    {
        if (!await db.Contracts.AnyAsync(c => c.Id == id, cancellationToken))
        {
            return null;
        }

        return await db.ContractHistory.AsNoTracking().Where(e => e.ContractId == id).OrderBy(e => e.Sequence)
            .Select(e => new HistoryView(e.Sequence, e.At, e.Actor, e.Change, e.PreviousHash, e.Hash)).ToListAsync(cancellationToken);
    }

    public async Task<ContractOutcome> CreateAsync(NewContract input, RequestActor actor, CancellationToken cancellationToken)
    {
        if (!await db.Providers.AnyAsync(p => p.Id == input.ProviderId, cancellationToken))
        {
            return new ContractOutcome.Invalid($"There is no provider {input.ProviderId}.");
        }

        var now = time.GetUtcNow();
        var contract = new Contract { Id = Guid.CreateVersion7(now), ProviderId = input.ProviderId!.Value, Name = "", Status = ContractStatus.Draft, CreatedAt = now };
        Apply(contract, input.Contract!);
        db.Contracts.Add(contract);
        return await AppendAsync(contract, "created", null, actor, cancellationToken);
    }

    /// <summary>Changes the terms and fees: only while the contract is a draft or being negotiated.</summary>
    public async Task<ContractOutcome> ChangeTermsAsync(Guid id, ContractTerms terms, RequestActor actor, CancellationToken cancellationToken)
    {
        if (await db.Contracts.FirstOrDefaultAsync(c => c.Id == id, cancellationToken) is not { } contract)
        {
            return new ContractOutcome.NotFound();
        }

        if (contract.Status is not (ContractStatus.Draft or ContractStatus.Negotiation))
        {
            return new ContractOutcome.Conflict($"The contract is {contract.Status.ToString().ToLowerInvariant()}: its terms can only change while it is a draft or in negotiation.");
        }

        var before = ContractState.Of(contract);
        Apply(contract, terms);
        var after = ContractState.Of(contract);
        var changed = Diff(before, after);
        return changed.Count == 0
            ? new ContractOutcome.Done(ContractView.Of(contract))
            : await AppendAsync(contract, "terms-changed", changed, actor, cancellationToken);
    }

    public async Task<ContractOutcome> MoveAsync(Guid id, ContractStatus to, RequestActor actor, CancellationToken cancellationToken)
    {
        if (await db.Contracts.FirstOrDefaultAsync(c => c.Id == id, cancellationToken) is not { } contract)
        {
            return new ContractOutcome.NotFound();
        }

        if (!Moves[contract.Status].Contains(to))
        {
            var allowed = Moves[contract.Status];
            return new ContractOutcome.Conflict(
                $"A {contract.Status.ToString().ToLowerInvariant()} contract cannot become {to.ToString().ToLowerInvariant()}"
                + (allowed.Length == 0 ? " (it is final)." : $"; it can become {string.Join(" or ", allowed.Select(a => a.ToString().ToLowerInvariant()))}."));
        }

        var from = contract.Status;
        contract.Status = to;
        return await AppendAsync(contract, "status-changed", new Dictionary<string, string?> { ["status"] = $"{from} -> {to}" }, actor, cancellationToken);
    }

    /// <summary>Appends a change to the contract's chain and commits it with whatever else the context holds (the head file after the commit).</summary>
    internal async Task<ContractOutcome> AppendAsync(Contract contract, string action, IReadOnlyDictionary<string, string?>? changed, RequestActor actor, CancellationToken cancellationToken)
    {
        var (outcome, _) = await AppendEntryAsync(contract, action, changed, actor, cancellationToken);
        return outcome;
    }

    /// <summary>As <see cref="AppendAsync"/>, also saying which sequence the entry took (null when it did not commit).</summary>
    internal async Task<(ContractOutcome Outcome, int? Sequence)> AppendEntryAsync(Contract contract, string action, IReadOnlyDictionary<string, string?>? changed, RequestActor actor, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var previous = contract.Version == 0
            ? ContractChain.Genesis
            : await db.ContractHistory.Where(e => e.ContractId == contract.Id && e.Sequence == contract.Version).Select(e => e.Hash).SingleAsync(cancellationToken);
        var entry = new ContractHistoryEntry
        {
            ContractId = contract.Id,
            Sequence = contract.Version + 1,
            At = ContractChain.Stamp(now),
            Actor = actor.Name,
            Change = new ContractChange(action, changed, ContractState.Of(contract)).ToJson(),
            PreviousHash = previous,
            Hash = "",
        };
        entry.Hash = ContractChain.Hash(entry.ContractId, entry.Sequence, entry.At, entry.Actor, entry.Change, entry.PreviousHash);
        contract.Version = entry.Sequence;
        contract.UpdatedAt = now;
        db.ContractHistory.Add(entry);
        db.Publish(new AuditRequested(new AuditRecord(actor.Name, $"rights.contract-{action}", $"contract:{contract.Id}", actor.From,
            $"entry #{entry.Sequence}, head {entry.Hash}"), now));
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // Another change of the same contract committed first (the version, and the entry's sequence, are taken).
            return (new ContractOutcome.Conflict("The contract was changed at the same time by someone else; reload it and try again."), null);
        }

        await heads.AppendAsync(new ChainHead(contract.Id, entry.Sequence, entry.Hash, entry.At), cancellationToken);
        return (new ContractOutcome.Done(ContractView.Of(contract)), entry.Sequence);
    }

    private static void Apply(Contract contract, ContractTerms terms)
    {
        contract.Name = terms.Name.Trim();
        contract.Terms = terms.Terms ?? "";
        contract.FeeModel = terms.FeeModel!.Value;
        contract.Currency = terms.Currency;
        contract.FlatFee = terms.FlatFee;
        contract.MinimumGuarantee = terms.MinimumGuarantee;
        contract.RevenueSharePercent = terms.RevenueSharePercent;
        contract.PerStreamRate = terms.PerStreamRate;
        contract.PaymentSchedule = terms.PaymentSchedule!.Value;
    }

    private static Dictionary<string, string?> Diff(ContractState before, ContractState after)
    {
        var changed = new Dictionary<string, string?>();
        foreach (var p in typeof(ContractState).GetProperties())
        {
            var a = p.GetValue(before);
            var b = p.GetValue(after);
            if (!Equals(a, b))
            {
                changed[char.ToLowerInvariant(p.Name[0]) + p.Name[1..]] = $"{a} -> {b}";
            }
        }

        return changed;
    }
}
