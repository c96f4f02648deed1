using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Marquee.Tests.Support;

/// <summary>What a <see cref="CuttingProxy"/> does to the traffic it relays (switchable at any time, also on open connections).</summary>
public enum FaultMode
{
    /// <summary>Relays both ways untouched.</summary>
    Pass,

    /// <summary>Relays, waiting <see cref="CuttingProxy.Delay"/> before each chunk in either direction (a slow link).</summary>
    Delay,

    /// <summary>Accepts connections and reads what is sent, but never forwards nor answers (a partition: packets dropped).</summary>
    Blackhole,

    /// <summary>Resets (TCP RST) every connection once <see cref="CuttingProxy.ResetAfterBytes"/> went upstream on it (0: at once).</summary>
    Reset,

    /// <summary>
    /// Relays requests to the server but resets the connection when its answer comes back: the dependency did the work and
    /// the caller never learns it. Only connections whose request contained <see cref="CuttingProxy.LoseAnswersTo"/>, when set.
    /// </summary>
    LoseAnswers,
}

/// <summary>
/// A TCP relay in front of a server, for network faults between Marquee and what it depends on (R27) or between a client
/// and Marquee: <see cref="Mode"/> passes, delays, blackholes, resets or loses answers, and can be switched while
/// connections are open (each chunk looks at the mode of the moment). Made with a byte count, it cuts the connection
/// once, hard, after that many bytes went upstream: a dropped network in the middle of an upload.
/// </summary>
public sealed class CuttingProxy : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly Uri target;
    private readonly long? cutOnceAfterBytes;
    private readonly CancellationTokenSource stop = new();
    private long upstreamBytes;
    private int cuts;
    private int cutOnce;
    private int connections;
    private volatile FaultMode mode;

    public CuttingProxy(Uri target, long cutAfterBytes)
        : this(target)
    {
        cutOnceAfterBytes = cutAfterBytes;
    }

    public CuttingProxy(Uri target, FaultMode mode = FaultMode.Pass)
    {
        this.target = target;
        this.mode = mode;
        listener.Start();
        _ = AcceptLoopAsync();
    }

    public Uri Address => new($"http://127.0.0.1:{Port}");

    public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

    /// <summary>Host and port as the SSRF guard's allow-list wants them.</summary>
    public string HostAndPort => $"127.0.0.1:{Port}";

    /// <summary>Connections cut or reset so far.</summary>
    public int Cuts => Volatile.Read(ref cuts);

    /// <summary>Connections accepted so far (whatever the mode).</summary>
    public int Connections => Volatile.Read(ref connections);

    public FaultMode Mode
    {
        get => mode;
        set => mode = value;
    }

    /// <summary>The wait before each relayed chunk in <see cref="FaultMode.Delay"/>.</summary>
    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>In <see cref="FaultMode.Reset"/>: bytes let through upstream on a connection before it is reset.</summary>
    public long ResetAfterBytes { get; set; }

    /// <summary>In <see cref="FaultMode.LoseAnswers"/>: only answers to requests containing this text (e.g. <c>POST /v1/payment_intents</c>) are lost.</summary>
    public string? LoseAnswersTo { get; set; }

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

            Interlocked.Increment(ref connections);
            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var server = new TcpClient();
        using (client)
        {
            var state = new Connection(client, server);
            try
            {
                switch (mode)
                {
                    case FaultMode.Reset when ResetAfterBytes <= 0:
                        Reset(state);
                        return;
                    case FaultMode.Blackhole:
                        await SwallowAsync(client.GetStream());
                        return;
                }

                await server.ConnectAsync(target.Host, target.Port, stop.Token);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            using var connection = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
            var up = PumpAsync(client.GetStream(), server.GetStream(), upstream: true, connection, state);
            var down = PumpAsync(server.GetStream(), client.GetStream(), upstream: false, connection, state);
            await Task.WhenAny(up, down);
            await connection.CancelAsync();
        }
    }

    /// <summary>Reads and drops whatever the client sends until it gives up or the proxy stops.</summary>
    private async Task SwallowAsync(NetworkStream from)
    {
        var buffer = new byte[16 * 1024];
        while (await from.ReadAsync(buffer, stop.Token) > 0)
        {
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool upstream, CancellationTokenSource connection, Connection state)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, connection.Token)) > 0)
            {
                var sent = upstream ? state.Add(read) : state.Upstream;
                if (upstream && cutOnceAfterBytes is { } once && Interlocked.Add(ref upstreamBytes, read) > once && Interlocked.CompareExchange(ref cutOnce, 1, 0) == 0)
                {
                    Reset(state);
                    return;
                }

                switch (mode)
                {
                    case FaultMode.Reset when upstream ? sent > ResetAfterBytes : sent >= ResetAfterBytes:
                        Reset(state);
                        return;
                    case FaultMode.Blackhole:
                        continue; // dropped on the floor: the other side waits for ever
                    case FaultMode.Delay:
                        await Task.Delay(Delay, connection.Token);
                        break;
                    case FaultMode.LoseAnswers when upstream:
                        state.Doomed |= LoseAnswersTo is null || Encoding.ASCII.GetString(buffer, 0, read).Contains(LoseAnswersTo, StringComparison.Ordinal);
                        break;
                    case FaultMode.LoseAnswers when state.Doomed:
                        Reset(state);
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

    /// <summary>Resets both sides at once: no graceful close, as when a network link drops.</summary>
    private void Reset(Connection state)
    {
        Interlocked.Increment(ref cuts);
        foreach (var socket in new[] { state.Client.Client, state.Server.Client })
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // already gone
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        listener.Stop();
        stop.Dispose();
    }

    private sealed class Connection(TcpClient client, TcpClient server)
    {
        private long upstream;

        public TcpClient Client => client;

        public TcpClient Server => server;

        public long Upstream => Interlocked.Read(ref upstream);

        public bool Doomed { get; set; }

        public long Add(long bytes) => Interlocked.Add(ref upstream, bytes);
    }
}
