using System.Globalization;
using System.Text;
using Marquee.Delivery.Contracts;
using Marquee.Platform.Events;
using Marquee.Rights.Contracts;
using Marquee.Rights.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Rights;

/// <summary>Delivery's play events into Rights' own usage table: a stream per session started, its minutes once it ended.</summary>
internal sealed class PlaybackUsage(RightsDb db) : IDomainEventHandler<PlaybackStarted>, IDomainEventHandler<PlaybackEnded>
{
    public async Task HandleAsync(PlaybackStarted domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        if (await db.AlreadyHandledAsync(context, "PlaybackUsage.Started", cancellationToken))
        {
            return;
        }

        var usage = await db.Usage.FirstOrDefaultAsync(u => u.SessionId == domainEvent.SessionId, cancellationToken);
        if (usage is null)
        {
            db.Usage.Add(new PlayUsage { SessionId = domainEvent.SessionId, TitleId = domainEvent.TitleId, StartedAt = domainEvent.At });
        }
        else
        {
            // The end arrived first: now the start is known, so are the minutes.
            usage.StartedAt = domainEvent.At;
            usage.Seconds = usage.EndedAt is { } ended ? Math.Max(0, (ended - domainEvent.At).TotalSeconds) : 0;
        }

        await db.SaveChangesAsync(cancellationToken);
    }

    public async Task HandleAsync(PlaybackEnded domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        if (await db.AlreadyHandledAsync(context, "PlaybackUsage.Ended", cancellationToken))
        {
            return;
        }

        var usage = await db.Usage.FirstOrDefaultAsync(u => u.SessionId == domainEvent.SessionId, cancellationToken);
        if (usage is null)
        {
            db.Usage.Add(new PlayUsage { SessionId = domainEvent.SessionId, TitleId = domainEvent.TitleId, StartedAt = domainEvent.At, EndedAt = domainEvent.At });
        }
        else
        {
            usage.EndedAt = domainEvent.At;
            usage.Seconds = Math.Max(0, (domainEvent.At - usage.StartedAt).TotalSeconds);
        }

        await db.SaveChangesAsync(cancellationToken);
    }
}

/// <summary>Billing's <see cref="RevenueRecognised"/> into Rights' revenue table (once per revenue id).</summary>
internal sealed class RevenueIntake(RightsDb db) : IDomainEventHandler<RevenueRecognised>
{
    public async Task HandleAsync(RevenueRecognised domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        if (await db.AlreadyHandledAsync(context, nameof(RevenueIntake), cancellationToken)
            || await db.Revenue.AnyAsync(r => r.Id == domainEvent.RevenueId, cancellationToken))
        {
            await db.SaveChangesAsync(cancellationToken);
            return;
        }

        db.Revenue.Add(new RevenueLine
        {
            Id = domainEvent.RevenueId,
            At = domainEvent.At,
            Amount = domainEvent.Amount,
            Currency = domainEvent.Currency.ToUpperInvariant(),
            TitleId = domainEvent.TitleId,
            Source = domainEvent.Source.Length > 100 ? domainEvent.Source[..100] : domainEvent.Source,
        });
        await db.SaveChangesAsync(cancellationToken);
    }
}

/// <summary>One line of a statement: what, how it was computed, and the amount (money in the contract's currency, or a count).</summary>
internal sealed record StatementLine(string Item, string Calculation, decimal Amount, string Unit);

/// <summary>A royalty statement of a contract for the period [From, To) in UTC.</summary>
internal sealed record RoyaltyStatement(Guid ContractId, string Contract, FeeModel FeeModel, string Currency, DateTimeOffset From, DateTimeOffset To,
    IReadOnlyList<StatementLine> Lines, decimal Payable)
{
    public string ToCsv()
    {
        var csv = new StringBuilder();
        csv.Append("contract,period_from,period_to,item,calculation,amount,unit\r\n");
        foreach (var line in Lines)
        {
            csv.Append(string.Join(',',
                ContractId.ToString("D"),
                From.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                To.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                Quote(line.Item), Quote(line.Calculation),
                line.Amount.ToString(CultureInfo.InvariantCulture), line.Unit)).Append("\r\n");
        }

        return csv.ToString();
    }

    /// <summary>RFC 4180 quoting; a leading =, +, - or @ is prefixed with ' so that spreadsheets do not run it as a formula.</summary>
    private static string Quote(string text)
    {
        if (text.Length > 0 && "=+-@".Contains(text[0], StringComparison.Ordinal))
        {
            text = "'" + text;
        }

        return "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }
}

/// <summary>
/// Royalty statements per contract and period, computed from the usage and revenue tables per the contract's terms.
/// Money is <see cref="decimal"/>, rounded to the cent (2 decimals) with banker's rounding (to even) at every line shown, so
/// that each line follows from the lines above it exactly as printed. Pooled revenue (subscriptions, ads) is shared among
/// titles by minutes watched in the period; revenue one title earned (rentals) goes to that title. Revenue in another
/// currency than the contract's is not counted (a line says how much was left out).
/// </summary>
internal sealed class RoyaltyStatements(RightsDb db)
{
    public static decimal Money(decimal amount) => Math.Round(amount, 2, MidpointRounding.ToEven);

    /// <summary>Money as the calculations print it: two decimals, invariant.</summary>
    private static string M(decimal? amount) => (amount ?? 0).ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>A rate, percentage or count as printed: no trailing zeros.</summary>
    private static string N(decimal? value) => (value ?? 0).ToString("0.######", CultureInfo.InvariantCulture);

    public async Task<RoyaltyStatement?> ComputeAsync(Guid contractId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var contract = await db.Contracts.AsNoTracking().FirstOrDefaultAsync(c => c.Id == contractId, cancellationToken);
        if (contract is null)
        {
            return null;
        }

        var titles = (await db.LicenceTitles.AsNoTracking()
            .Where(t => db.Licences.Any(l => l.Id == t.LicenceId && l.ContractId == contractId))
            .Select(t => t.TitleId).ToListAsync(cancellationToken)).ToHashSet();
        var lines = new List<StatementLine>();
        var cur = contract.Currency;
        lines.Add(new StatementLine("Titles under this contract", "titles of the licences that name this contract", titles.Count, "titles"));

        var period = await AttributableAsync(titles, cur, from, to, lines, cancellationToken);
        decimal payable;
        switch (contract.FeeModel)
        {
            case FeeModel.RevenueShare:
            {
                var share = contract.RevenueSharePercent ?? 0;
                payable = Money(period.Revenue * share / 100m);
                lines.Add(new StatementLine("Royalty", $"{M(period.Revenue)} × {N(share)}%", payable, cur));
                break;
            }

            case FeeModel.MinimumGuarantee:
            {
                var share = contract.RevenueSharePercent ?? 0;
                var guarantee = contract.MinimumGuarantee ?? 0;
                var earned = Money(period.Revenue * share / 100m);
                lines.Add(new StatementLine("Royalty earned this period", $"{M(period.Revenue)} × {N(share)}%", earned, cur));
                var before = await AttributableAsync(titles, cur, new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero), from, lines: null, cancellationToken);
                var earnedBefore = Money(before.Revenue * share / 100m);
                lines.Add(new StatementLine("Royalty earned before this period", $"{M(before.Revenue)} attributable before {from.UtcDateTime:yyyy-MM-dd} × {N(share)}%", earnedBefore, cur));
                lines.Add(new StatementLine("Minimum guarantee (advance paid)", "per the contract", guarantee, cur));
                var unrecouped = Math.Max(0, guarantee - earnedBefore);
                lines.Add(new StatementLine("Advance not yet recouped at the start", $"max(0, {M(guarantee)} − {M(earnedBefore)})", unrecouped, cur));
                var recouped = Math.Min(unrecouped, earned);
                lines.Add(new StatementLine("Recouped this period", $"min({M(unrecouped)}, {M(earned)})", recouped, cur));
                payable = earned - recouped;
                lines.Add(new StatementLine("Royalty", $"{M(earned)} − {M(recouped)}", payable, cur));
                break;
            }

            case FeeModel.PerStream:
            {
                var rate = contract.PerStreamRate ?? 0;
                payable = Money(period.Streams * rate);
                lines.Add(new StatementLine("Royalty", $"{period.Streams} streams × {N(rate)}", payable, cur));
                break;
            }

            default:
                payable = 0;
                lines.Add(new StatementLine("Flat fee", $"{M(contract.FlatFee)} {cur}, invoiced {contract.PaymentSchedule} as agreed, not per use", contract.FlatFee ?? 0, cur));
                lines.Add(new StatementLine("Royalty", "no per-use royalty under a flat fee", 0, cur));
                break;
        }

        return new RoyaltyStatement(contract.Id, contract.Name, contract.FeeModel, cur, from, to, lines, payable);
    }

    private sealed record Attributable(decimal Revenue, int Streams);

    private async Task<Attributable> AttributableAsync(HashSet<Guid> titles, string currency, DateTimeOffset from, DateTimeOffset to, List<StatementLine>? lines, CancellationToken cancellationToken)
    {
        var usage = await db.Usage.AsNoTracking().Where(u => u.StartedAt >= from && u.StartedAt < to).ToListAsync(cancellationToken);
        var revenue = await db.Revenue.AsNoTracking().Where(r => r.At >= from && r.At < to).ToListAsync(cancellationToken);

        var streams = usage.Count(u => titles.Contains(u.TitleId));
        var minutesAll = Math.Round((decimal)usage.Sum(u => u.Seconds) / 60m, 2, MidpointRounding.ToEven);
        var minutesOurs = Math.Round((decimal)usage.Where(u => titles.Contains(u.TitleId)).Sum(u => u.Seconds) / 60m, 2, MidpointRounding.ToEven);
        var pooled = revenue.Where(r => r.TitleId is null && r.Currency == currency).Sum(r => r.Amount);
        var direct = revenue.Where(r => r.TitleId is { } t && titles.Contains(t) && r.Currency == currency).Sum(r => r.Amount);
        var otherCurrency = revenue.Where(r => r.Currency != currency && (r.TitleId is null || titles.Contains(r.TitleId.Value))).ToList();
        var pooledShare = minutesAll == 0 ? 0 : Money(pooled * minutesOurs / minutesAll);
        var total = pooledShare + Money(direct);

        if (lines is not null)
        {
            lines.Add(new StatementLine("Streams of these titles", "playback sessions started in the period", streams, "streams"));
            lines.Add(new StatementLine("Minutes watched, these titles", "sum of session durations / 60", minutesOurs, "minutes"));
            lines.Add(new StatementLine("Minutes watched, all titles", "sum of session durations / 60", minutesAll, "minutes"));
            lines.Add(new StatementLine("Pooled revenue (subscriptions, ads)", $"revenue without a title, in {currency}", Money(pooled), currency));
            lines.Add(new StatementLine("Pooled revenue attributable", minutesAll == 0 ? "no minutes watched" : $"{M(pooled)} × {N(minutesOurs)} / {N(minutesAll)}", pooledShare, currency));
            lines.Add(new StatementLine("Direct revenue of these titles (rentals, purchases)", $"revenue naming one of these titles, in {currency}", Money(direct), currency));
            if (otherCurrency.Count > 0)
            {
                lines.Add(new StatementLine("Revenue in other currencies, not counted", string.Join(", ", otherCurrency.GroupBy(r => r.Currency).Select(g => $"{M(g.Sum(r => r.Amount))} {g.Key}")), 0, currency));
            }

            lines.Add(new StatementLine("Revenue attributable", $"{M(pooledShare)} + {M(direct)}", total, currency));
        }

        return new Attributable(total, streams);
    }
}
