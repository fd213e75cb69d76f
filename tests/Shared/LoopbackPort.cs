using System.Net;
using System.Net.Sockets;

namespace TokenGateway.Testing;

/// <summary>Compiled into the test and benchmark projects.</summary>
internal static class LoopbackPort
{
    /// <summary>A port nothing listens on right now, for a child process that cannot be told to use port 0.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
