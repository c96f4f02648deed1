namespace Marquee.Identity.Contracts;

/// <summary>
/// Sends a plain-text e-mail the way Identity does (SMTP when configured, else an .eml file in the pickup folder), for
/// other modules' mail (Billing's receipts).
/// </summary>
public interface IMail
{
    Task SendAsync(string to, string subject, string text, CancellationToken cancellationToken);

    /// <summary>Erasure: removes every message to <paramref name="address"/> kept in the pickup folder (how many were removed).</summary>
    Task<int> ForgetAsync(string address, CancellationToken cancellationToken);
}
