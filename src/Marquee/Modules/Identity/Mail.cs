using MailKit.Net.Smtp;
using MailKit.Security;
using Marquee.Platform;
using Microsoft.Extensions.Options;
using MimeKit;

namespace Marquee.Identity;

/// <summary>Sends the module's e-mails (verification codes, sign-in links).</summary>
internal interface IMailSender
{
    Task SendAsync(string to, string subject, string text, CancellationToken cancellationToken);
}

/// <summary>
/// SMTP through MailKit when <c>Marquee:Identity:Mail:SmtpHost</c> is set; otherwise each message is written as an
/// .eml file into the pickup folder (<c>&lt;DataDir&gt;/mail/</c> by default), where a developer or a test reads it.
/// </summary>
internal sealed class MailSender(IOptions<AccountOptions> options, IOptions<MarqueeOptions> marquee, TimeProvider clock) : IMailSender
{
    public string PickupDir => Path.Combine(marquee.Value.FullDataDir, options.Value.Mail.PickupDir);

    public async Task SendAsync(string to, string subject, string text, CancellationToken cancellationToken)
    {
        var mail = options.Value.Mail;
        using var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(mail.From));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = subject;
        message.Date = clock.GetUtcNow();
        message.Body = new TextPart("plain") { Text = text };

        if (string.IsNullOrWhiteSpace(mail.SmtpHost))
        {
            Directory.CreateDirectory(PickupDir);
            var file = Path.Combine(PickupDir, $"{clock.GetUtcNow():yyyyMMddTHHmmssfff}-{Guid.NewGuid():N}.eml");
            await message.WriteToAsync(file + ".tmp", cancellationToken);
            File.Move(file + ".tmp", file); // readers never see half a message
            return;
        }

        using var smtp = new SmtpClient();
        var security = Enum.TryParse<SecureSocketOptions>(mail.SmtpSecurity, ignoreCase: true, out var s) ? s : SecureSocketOptions.StartTls;
        await smtp.ConnectAsync(mail.SmtpHost, mail.SmtpPort, security, cancellationToken);
        if (!string.IsNullOrEmpty(mail.SmtpUser))
        {
            await smtp.AuthenticateAsync(mail.SmtpUser, mail.SmtpPassword ?? "", cancellationToken);
        }

        await smtp.SendAsync(message, cancellationToken);
        await smtp.DisconnectAsync(quit: true, cancellationToken);
    }
}

/// <summary>The <see cref="Contracts.IMail"/> other modules send through: the same sender as Identity's own mail.</summary>
internal sealed class MailContract(IMailSender sender) : Contracts.IMail
{
    public Task SendAsync(string to, string subject, string text, CancellationToken cancellationToken) => sender.SendAsync(to, subject, text, cancellationToken);
}
