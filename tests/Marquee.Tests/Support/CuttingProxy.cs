using System.Net;
using System.Net.Sockets;

namespace Marquee.Tests.Support;

/// <summary>
/// A TCP relay in front of the server that cuts the connection once, hard, after a number of bytes went upstream:
/// a dropped network in the middle of an upload.
/// </summary>
public sealed class CuttingProxy : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly Uri target;
    private readonly long cutAfterBytes;
    private readonly CancellationTokenSource stop = new();
    private long upstreamBytes;
    private int cuts;

    public CuttingProxy(Uri target, long cutAfterBytes)
    {
        this.target = target;
        this.cutAfterBytes = cutAfterBytes;
        listener.Start();
        _ = AcceptLoopAsync();
    }

    public Uri Address => new($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");

    public int Cuts => Volatile.Read(ref cuts);

    private async Task AcceptLoopAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop.Token);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var server = new TcpClient();
        using (client)
        {
            await server.ConnectAsync(target.Host, target.Port);
            using var connection = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
            var up = PumpAsync(client.GetStream(), server.GetStream(), upstream: true, connection, client, server);
            var down = PumpAsync(server.GetStream(), client.GetStream(), upstream: false, connection, client, server);
            await Task.WhenAny(up, down);
            await connection.CancelAsync();
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool upstream, CancellationTokenSource connection, TcpClient client, TcpClient server)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, connection.Token)) > 0)
            {
                if (upstream && Interlocked.Add(ref upstreamBytes, read) > cutAfterBytes && Interlocked.CompareExchange(ref cuts, 1, 0) == 0)
                {
                    // Reset both sides at once, mid-request: no graceful close, as when a network link drops.
                    client.Client.LingerState = new LingerOption(true, 0);
                    server.Client.LingerState = new LingerOption(true, 0);
                    client.Client.Close();
                    server.Client.Close();
                    return;
                }

                await to.WriteAsync(buffer.AsMemory(0, read), connection.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // the connection ended
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        listener.Stop();
        stop.Dispose();
    }
}
