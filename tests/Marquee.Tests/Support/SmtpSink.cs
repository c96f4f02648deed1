using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Marquee.Tests.Support;

/// <summary>
/// A tiny SMTP server on a free loopback port that accepts every message (no TLS, no authentication) and keeps its text:
/// the mail server that Marquee's SMTP sender talks to in tests (put a <see cref="CuttingProxy"/> in front to break it).
/// </summary>
public sealed class SmtpSink : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource stop = new();
    private readonly ConcurrentQueue<string> messages = new();

    public SmtpSink()
    {
        listener.Start();
        _ = AcceptLoopAsync();
    }

    public Uri Address => new($"smtp://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");

    /// <summary>The DATA of every message received (headers and body), in order.</summary>
    public IReadOnlyList<string> Messages => [.. messages];

    private async Task AcceptLoopAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var client = await listener.AcceptTcpClientAsync(stop.Token);
                _ = ServeAsync(client);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                using var reader = new StreamReader(stream, Encoding.ASCII);
                await using var writer = new StreamWriter(stream, Encoding.ASCII) { NewLine = "\r\n", AutoFlush = true };
                await writer.WriteLineAsync("220 sink.test ESMTP");
                while (await reader.ReadLineAsync(stop.Token) is { } line)
                {
                    var verb = (line.Length >= 4 ? line[..4] : line).ToUpperInvariant();
                    switch (verb)
                    {
                        case "EHLO":
                            await writer.WriteLineAsync("250-sink.test");
                            await writer.WriteLineAsync("250 8BITMIME");
                            break;
                        case "DATA":
                            await writer.WriteLineAsync("354 go ahead");
                            var data = new StringBuilder();
                            while (await reader.ReadLineAsync(stop.Token) is { } dataLine && dataLine != ".")
                            {
                                data.Append(dataLine.StartsWith("..", StringComparison.Ordinal) ? dataLine[1..] : dataLine).Append("\r\n");
                            }

                            messages.Enqueue(data.ToString());
                            await writer.WriteLineAsync("250 queued");
                            break;
                        case "QUIT":
                            await writer.WriteLineAsync("221 bye");
                            return;
                        default:
                            await writer.WriteLineAsync("250 OK"); // HELO, MAIL, RCPT, RSET, NOOP
                            break;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
            {
                // the client went away
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        listener.Stop();
        stop.Dispose();
    }
}
