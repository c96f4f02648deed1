using System.Globalization;
using System.Text;
using CsvHelper;
using Marquee.Billing.Data;
using Marquee.Platform.Audit;
using Marquee.Platform.Web;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Billing;

/// <summary>
/// One line of a gateway's settlement report, as Marquee reads it: <c>type,charge_id,amount,fee,net,currency,created_utc</c>
/// (<c>type</c> is <c>charge</c> or <c>refund</c>; amounts in minor units, a refund's negative).
/// </summary>
internal sealed record SettlementLine(int Line, string Type, string ChargeId, long Amount, long Fee, long Net, string Currency, DateTimeOffset CreatedUtc);

internal sealed record MismatchView(Guid Id, string Kind, string ChargeId, Guid? PaymentId, string Currency, long? Expected, long? Actual, long? ExpectedFee, long? ActualFee, string Detail,
    DateTimeOffset? ResolvedAt, string? ResolvedBy, string? Resolution)
{
    public static MismatchView Of(ReconciliationMismatch m) =>
        new(m.Id, m.Kind.ToString(), m.ChargeId, m.PaymentId, m.Currency, m.ExpectedAmount, m.ActualAmount, m.ExpectedFee, m.ActualFee, m.Detail, m.ResolvedAt, m.ResolvedBy, m.Resolution);
}

internal sealed record ReconciliationView(Guid Id, DateTimeOffset ImportedAt, DateTimeOffset From, DateTimeOffset To, string FileName, int Lines, int Matched, int Open, IReadOnlyList<MismatchView> Mismatches);

internal sealed record ResolveInput([property: System.ComponentModel.DataAnnotations.Required, System.ComponentModel.DataAnnotations.StringLength(500, MinimumLength = 3)] string Note);

/// <summary>
/// Reconciliation (A5.4): a gateway's settlement report matched against Marquee's payments over the report's period.
/// Each charge line must match one payment (succeeded or refunded since) by the gateway's charge id, with the same amount,
/// fee and currency; each refund line a refunded payment. What does not is stored as a mismatch for finance to resolve:
/// <see cref="MismatchKind.Missing"/> (a payment of the period the report lacks), <see cref="MismatchKind.Duplicated"/>
/// (a charge reported twice), <see cref="MismatchKind.AmountDiffers"/>, <see cref="MismatchKind.FeeDiffers"/>, and
/// <see cref="MismatchKind.Unknown"/> (money the gateway took that Marquee has no payment for).
/// </summary>
internal sealed class Reconciler(BillingDb db, TimeProvider time)
{
    public const string Header = "type,charge_id,amount,fee,net,currency,created_utc";

    /// <summary>Reads a settlement report; a line that does not parse is an error naming it (nothing is stored).</summary>
    public static (IReadOnlyList<SettlementLine> Lines, string? Error) Parse(string text)
    {
        var lines = new List<SettlementLine>();
        try
        {
            using var csv = CsvReader.FromText(text, null);
            var n = 1;
            while (csv.Read())
            {
                n++;
                var type = csv.GetString("type").Trim().ToLowerInvariant();
                if (type is not ("charge" or "refund"))
                {
                    return ([], $"line {n}: type '{type}' is neither charge nor refund");
                }

                if (!long.TryParse(csv.GetString("amount"), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var amount)
                    || !long.TryParse(csv.GetString("fee"), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var fee)
                    || !long.TryParse(csv.GetString("net"), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var net)
                    || !DateTimeOffset.TryParse(csv.GetString("created_utc"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var created))
                {
                    return ([], $"line {n}: amount, fee and net must be whole minor units and created_utc a date");
                }

                var charge = csv.GetString("charge_id").Trim();
                var currency = csv.GetString("currency").Trim().ToUpperInvariant();
                if (charge.Length is 0 or > 100 || currency.Length != 3)
                {
                    return ([], $"line {n}: a charge id and a three-letter currency are required");
                }

                lines.Add(new SettlementLine(n, type, charge, amount, fee, net, currency, created));
            }
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or ArgumentException or KeyNotFoundException or IndexOutOfRangeException)
        {
            return ([], $"the file is not a settlement report ({Header}): {ex.Message}");
        }

        return (lines, null);
    }

    /// <summary>The mismatches between <paramref name="lines"/> and the payments created in [from, to).</summary>
    public async Task<List<ReconciliationMismatch>> MatchAsync(IReadOnlyList<SettlementLine> lines, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var refs = lines.Select(l => l.ChargeId).Distinct().ToList();
        var known = await db.Payments.AsNoTracking().Where(p => refs.Contains(p.GatewayRef)).ToListAsync(ct);
        var period = await db.Payments.AsNoTracking()
            .Where(p => p.Status == PaymentStatus.Succeeded || p.Status == PaymentStatus.Refunded || p.Status == PaymentStatus.RefundPending || p.Status == PaymentStatus.RefundFailed).ToListAsync(ct);
        var byRef = known.Concat(period.Where(p => p.CreatedAt >= from && p.CreatedAt < to)).DistinctBy(p => p.Id).ToDictionary(p => p.GatewayRef);
        var mismatches = new List<ReconciliationMismatch>();

        foreach (var group in lines.GroupBy(l => (l.Type, l.ChargeId)))
        {
            var line = group.First();
            byRef.TryGetValue(line.ChargeId, out var payment);
            if (group.Count() > 1)
            {
                mismatches.Add(New(MismatchKind.Duplicated, line, payment, $"{line.Type} {line.ChargeId} is reported {group.Count()} times (lines {string.Join(", ", group.Select(g => g.Line))})"));
            }

            var settled = line.Type == "charge"
                ? payment is { Status: PaymentStatus.Succeeded or PaymentStatus.Refunded or PaymentStatus.RefundPending or PaymentStatus.RefundFailed }
                : payment is { Status: PaymentStatus.Refunded };
            if (payment is null || !settled)
            {
                mismatches.Add(New(MismatchKind.Unknown, line, payment, payment is null
                    ? $"the gateway reports a {line.Type} of {Receipts.Money(Math.Abs(line.Amount), line.Currency)} that Marquee has no payment for"
                    : $"the gateway reports a {line.Type}, Marquee's payment is {payment.Status.ToString().ToLowerInvariant()}"));
                continue;
            }

            var expected = line.Type == "charge" ? payment.Amount : -payment.Amount;
            if (line.Amount != expected || line.Currency != payment.Currency)
            {
                mismatches.Add(New(MismatchKind.AmountDiffers, line, payment,
                    $"the gateway reports {Receipts.Money(line.Amount, line.Currency)}, Marquee's payment is {Receipts.Money(expected, payment.Currency)}"));
            }
            else if (line.Type == "charge" && line.Fee != payment.Fee)
            {
                mismatches.Add(New(MismatchKind.FeeDiffers, line, payment,
                    $"the gateway's fee is {Receipts.Money(line.Fee, line.Currency)}, Marquee recorded {Receipts.Money(payment.Fee, payment.Currency)}"));
            }
        }

        var charged = lines.Where(l => l.Type == "charge").Select(l => l.ChargeId).ToHashSet();
        foreach (var p in period.Where(p => p.CreatedAt >= from && p.CreatedAt < to && !charged.Contains(p.GatewayRef)).OrderBy(p => p.CreatedAt))
        {
            mismatches.Add(new ReconciliationMismatch
            {
                Id = Guid.NewGuid(), Kind = MismatchKind.Missing, ChargeId = p.GatewayRef, PaymentId = p.Id, Currency = p.Currency, ExpectedAmount = p.Amount, ExpectedFee = p.Fee,
                Detail = $"payment {p.Id} of {Receipts.Money(p.Amount, p.Currency)} on {p.CreatedAt.UtcDateTime:yyyy-MM-dd HH:mm} is not in the report",
            });
        }

        return mismatches;

        static ReconciliationMismatch New(MismatchKind kind, SettlementLine line, Payment? payment, string detail) => new()
        {
            Id = Guid.NewGuid(), Kind = kind, ChargeId = line.ChargeId, PaymentId = payment?.Id, Currency = line.Currency,
            ExpectedAmount = payment is null ? null : line.Type == "charge" ? payment.Amount : -payment.Amount, ActualAmount = line.Amount,
            ExpectedFee = payment?.Fee, ActualFee = line.Fee, Detail = detail.Length > 300 ? detail[..300] : detail,
        };
    }

    public async Task<(ReconciliationView? Run, string? Error)> ImportAsync(string text, string fileName, DateTimeOffset from, DateTimeOffset to, RequestActor actor, CancellationToken ct)
    {
        if (to <= from)
        {
            return (null, "'to' must be after 'from'");
        }

        var (lines, error) = Parse(text);
        if (error is not null)
        {
            return (null, error);
        }

        var mismatches = await MatchAsync(lines, from, to, ct);
        var run = new ReconciliationRun
        {
            Id = Guid.NewGuid(), ImportedAt = time.GetUtcNow(), From = from, To = to, FileName = fileName.Length > 200 ? fileName[..200] : fileName,
            Lines = lines.Count, Matched = lines.Count - mismatches.Count(m => m.Kind != MismatchKind.Missing), ImportedBy = actor.Name,
        };
        foreach (var m in mismatches)
        {
            m.RunId = run.Id;
        }

        db.ReconciliationRuns.Add(run);
        db.ReconciliationMismatches.AddRange(mismatches);
        Audit(actor, "billing.settlement-imported", $"reconciliation:{run.Id}", $"{lines.Count} lines, {mismatches.Count} mismatches");
        await db.SaveChangesAsync(ct);
        return (View(run, mismatches), null);
    }

    public async Task<ReconciliationView?> RunAsync(Guid id, CancellationToken ct)
    {
        var run = await db.ReconciliationRuns.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, ct);
        return run is null ? null : View(run, await db.ReconciliationMismatches.AsNoTracking().Where(m => m.RunId == id).ToListAsync(ct));
    }

    public async Task<IReadOnlyList<ReconciliationView>> RunsAsync(CancellationToken ct)
    {
        var runs = (await db.ReconciliationRuns.AsNoTracking().ToListAsync(ct)).OrderByDescending(r => r.ImportedAt).Take(20).ToList();
        var ids = runs.Select(r => r.Id).ToList();
        var mismatches = await db.ReconciliationMismatches.AsNoTracking().Where(m => ids.Contains(m.RunId)).ToListAsync(ct);
        return [.. runs.Select(r => View(r, [.. mismatches.Where(m => m.RunId == r.Id)]))];
    }

    public async Task<MismatchView?> ResolveAsync(Guid mismatchId, string note, RequestActor actor, CancellationToken ct)
    {
        var m = await db.ReconciliationMismatches.FirstOrDefaultAsync(x => x.Id == mismatchId, ct);
        if (m is null)
        {
            return null;
        }

        if (m.ResolvedAt is null)
        {
            m.ResolvedAt = time.GetUtcNow();
            m.ResolvedBy = actor.Name.Length > 200 ? actor.Name[..200] : actor.Name;
            m.Resolution = note.Length > 500 ? note[..500] : note;
            Audit(actor, "billing.mismatch-resolved", $"reconciliation-mismatch:{m.Id}", $"{m.Kind} {m.ChargeId}: {m.Resolution}");
            await db.SaveChangesAsync(ct);
        }

        return MismatchView.Of(m);
    }

    private void Audit(RequestActor actor, string action, string target, string? details) =>
        db.Publish(new AuditRequested(new AuditRecord(actor.Name, action, target, actor.From, details), time.GetUtcNow()));

    private static ReconciliationView View(ReconciliationRun r, List<ReconciliationMismatch> mismatches) =>
        new(r.Id, r.ImportedAt, r.From, r.To, r.FileName, r.Lines, r.Matched, mismatches.Count(m => m.ResolvedAt is null),
            [.. mismatches.OrderBy(m => m.Kind).ThenBy(m => m.ChargeId, StringComparer.Ordinal).Select(MismatchView.Of)]);

    /// <summary>Writes a settlement report in the format <see cref="Parse"/> reads.</summary>
    public static string Write(IEnumerable<SettlementLine> lines)
    {
        var csv = new StringBuilder(Header).Append('\n');
        foreach (var l in lines)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{l.Type},{l.ChargeId},{l.Amount},{l.Fee},{l.Net},{l.Currency},{l.CreatedUtc.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}\n");
        }

        return csv.ToString();
    }
}
