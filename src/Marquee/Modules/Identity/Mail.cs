using MailKit.Net.Smtp;
using MailKit.Security;
using Marquee.Identity.Data;
using Marquee.Platform;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Microsoft.Extensions.Options;
using MimeKit;

namespace Marquee.Identity;

/// <summary>Sends the module's e-mails (verification codes, sign-in links).</summary>
internal interface IMailSender
{
    Task SendAsync(string to, string subject, string text, CancellationToken cancellationToken);

    /// <summary>Erasure: removes every kept message to <paramref name="address"/> (how many were removed).</summary>
    Task<int> ForgetAsync(string address, CancellationToken cancellationToken) => Task.FromResult(0);
}

/// <summary>
/// SMTP through MailKit when <c>Marquee:Identity:Mail:SmtpHost</c> is set: the message is queued durably (Identity's
/// outbox, committed before the caller goes on) and <see cref="MailDelivery"/> hands it to the server, retried with
/// back-off when the server is down, slow or unreachable, so a request never waits for the mail server (R27). Otherwise
/// each message is written as an .eml file into the pickup folder (<c>&lt;DataDir&gt;/mail/</c> by default), where a
/// developer or a test reads it.
/// </summary>
internal sealed class MailSender(IOptions<AccountOptions> options, IOptions<MarqueeOptions> marquee, TimeProvider clock, IServiceScopeFactory scopes) : IMailSender
{
    public string PickupDir => Path.Combine(marquee.Value.FullDataDir, options.Value.Mail.PickupDir);

    public async Task SendAsync(string to, string subject, string text, CancellationToken cancellationToken)
    {
        var mail = options.Value.Mail;
        if (!string.IsNullOrWhiteSpace(mail.SmtpHost))
        {
            MailboxAddress.Parse(to); // a bad address fails here, in the caller, not in the outbox
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<IdentityDb>();
            db.Publish(new MailQueued(to, subject, text, clock.GetUtcNow()));
            await db.SaveChangesAsync(cancellationToken);
            return;
        }

        using var message = Compose(mail, to, subject, text, clock.GetUtcNow());
        Directory.CreateDirectory(PickupDir);
        var file = Path.Combine(PickupDir, $"{clock.GetUtcNow():yyyyMMddTHHmmssfff}-{Guid.NewGuid():N}.eml");
        await message.WriteToAsync(file + ".tmp", cancellationToken);
        File.Move(file + ".tmp", file); // readers never see half a message
    }

    /// <summary>
    /// Erasure (R32): the pickup folder's messages to the address are deleted (the folder is the development stand-in for
    /// a mail server: the messages it holds were never delivered anywhere). Over SMTP nothing is kept here: the queued
    /// message's payload is blanked once sent, and the outbox scrub removes what waits.
    /// </summary>
    public async Task<int> ForgetAsync(string address, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(PickupDir))
        {
            return 0;
        }

        var removed = 0;
        foreach (var file in Directory.EnumerateFiles(PickupDir, "*.eml"))
        {
            bool theirs;
            try
            {
                await using var stream = File.OpenRead(file);
                var headers = await HeaderList.LoadAsync(ParserOptions.Default, stream, cancellationToken);
                theirs = InternetAddressList.TryParse(headers[HeaderId.To] ?? "", out var to)
                         && to.Mailboxes.Any(m => string.Equals(m.Address, address, StringComparison.OrdinalIgnoreCase));
            }
            catch (Exception ex) when (ex is IOException or FormatException)
            {
                continue; // gone meanwhile, or not a message: nothing of the person to find in it here
            }

            if (theirs)
            {
                File.Delete(file);
                removed++;
            }
        }

        return removed;
    }

    internal static MimeMessage Compose(MailOptions mail, string to, string subject, string text, DateTimeOffset date)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(mail.From));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = subject;
        message.Date = date;
        message.Body = new TextPart("plain") { Text = text };
        return message;
    }
}

/// <summary>A message waiting in Identity's outbox for the SMTP server (its text holds one-time codes: the stored payload is blanked once the mail is sent).</summary>
[EventName("identity.mail-queued.v1")]
[Marquee.Platform.Privacy.RedactAfterDelivery] // the address and the one-time codes go once the mail is sent
internal sealed record MailQueued(string To, string Subject, string Text, DateTimeOffset QueuedAt) : IDomainEvent;

/// <summary>
/// Hands a queued message to the SMTP server within <see cref="MailOptions.SmtpTimeout"/>; a failure (refused, reset,
/// timed out, a 4xx answer) throws, and the outbox tries again later, a bounded number of times (<c>Marquee:Events</c>).
/// The outbox message id is the Message-Id, so a message sent twice (an acknowledgement lost) is one message to a reader.
/// </summary>
internal sealed class MailDelivery(IOptions<AccountOptions> options) : IDomainEventHandler<MailQueued>
{
    public async Task HandleAsync(MailQueued domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        var mail = options.Value.Mail;
        if (string.IsNullOrWhiteSpace(mail.SmtpHost))
        {
            throw new InvalidOperationException("A queued e-mail, but Marquee:Identity:Mail:SmtpHost is no longer set.");
        }

        using var message = MailSender.Compose(mail, domainEvent.To, domainEvent.Subject, domainEvent.Text, domainEvent.QueuedAt);
        message.MessageId = $"{context.MessageId:N}@marquee";
        using var smtp = new SmtpClient { Timeout = (int)mail.SmtpTimeout.TotalMilliseconds };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(mail.SmtpTimeout);
        var security = Enum.TryParse<SecureSocketOptions>(mail.SmtpSecurity, ignoreCase: true, out var s) ? s : SecureSocketOptions.StartTls;
        await smtp.ConnectAsync(mail.SmtpHost, mail.SmtpPort, security, deadline.Token);
        if (!string.IsNullOrEmpty(mail.SmtpUser))
        {
            await smtp.AuthenticateAsync(mail.SmtpUser, mail.SmtpPassword ?? "", deadline.Token);
        }

        await smtp.SendAsync(message, deadline.Token);
        await smtp.DisconnectAsync(quit: true, deadline.Token);
    }
}

/// <summary>The <see cref="Contracts.IMail"/> other modules send through: the same sender as Identity's own mail.</summary>
internal sealed class MailContract(IMailSender sender) : Contracts.IMail
{
    public Task SendAsync(string to, string subject, string text, CancellationToken cancellationToken) => sender.SendAsync(to, subject, text, cancellationToken);

    public Task<int> ForgetAsync(string address, CancellationToken cancellationToken) => sender.ForgetAsync(address, cancellationToken);
}

/// <summary>
/// Erasure, the durable step: the pickup folder's messages to the erased address go, through the outbox (retried until
/// done), in case the process stopped between the erasure's commit and its immediate clean-up.
/// </summary>
internal sealed class MailErasure(IMailSender mail) : IDomainEventHandler<Contracts.AccountDeleted>
{
    public async Task HandleAsync(Contracts.AccountDeleted domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(domainEvent.Email))
        {
            await mail.ForgetAsync(domainEvent.Email, cancellationToken);
        }
    }
}
