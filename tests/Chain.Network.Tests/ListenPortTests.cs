using System.Net;
using System.Net.Sockets;
using Chain.Network.Tcp;

namespace Chain.Network.Tests;

public class ListenPortTests
{
    [Fact]
    public async Task A_second_network_cannot_listen_on_a_port_in_use()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kb = Keys.Node(2);
        var (first, _) = nets.Start(ka, Nets.Options());
        var port = first.ListenEndpoint!.Port;
        var second = new TcpPeerNetwork(kb, Nets.Options() with { ListenEndpoint = new IPEndPoint(IPAddress.Loopback, port) });
        nets.Own(second);
        var e = Assert.Throws<SocketException>(second.Start);
        Assert.Equal(SocketError.AddressAlreadyInUse, e.SocketErrorCode);
    }

    [Fact]
    public async Task A_restarted_network_rebinds_its_port_while_old_connections_linger()
    {
        using var ka = Keys.Node(1);
        using var kb = Keys.Node(2);
        int port;
        await using (var nets = new Nets())
        {
            var (a, ra) = nets.Start(ka, Nets.Options());
            port = a.ListenEndpoint!.Port;
            var (_, rb) = nets.Start(kb, Nets.Options(Nets.AddressOf(a, ka.PublicKey)));
            await Wait.Until(() => a.ConnectedPeers.Count == 1, "a connection, so the port has TIME_WAIT sockets after the close");
        }
        await using var again = new Nets();
        var (restarted, _) = again.Start(ka, Nets.Options() with { ListenEndpoint = new IPEndPoint(IPAddress.Loopback, port) });
        Assert.Equal(port, restarted.ListenEndpoint!.Port);
    }
}
