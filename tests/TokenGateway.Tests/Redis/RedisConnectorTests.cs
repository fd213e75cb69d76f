using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TokenGateway.Configuration;
using TokenGateway.Redis;

namespace TokenGateway.Tests.Redis;

public sealed class RedisConnectorTests
{
    [Fact]
    public void Configure_Defaults_Resp2AndShortDeadlines()
    {
        var config = RedisConnector.Configure(new RedisOptions { Configuration = "127.0.0.1:6379" });

        Assert.Equal(RedisProtocol.Resp2, config.Protocol);
        Assert.False(config.AbortOnConnectFail);
        Assert.Equal(2000, config.ConnectTimeout);
        Assert.Equal(1000, config.SyncTimeout);
        Assert.Equal(1000, config.AsyncTimeout);
    }

    [Fact]
    public void Configure_ConfigurationString_MayChooseResp3AndShortenButNotLengthenTimeouts()
    {
        var config = RedisConnector.Configure(new RedisOptions { Configuration = "127.0.0.1:6379,protocol=resp3,connectTimeout=200,syncTimeout=30000,asyncTimeout=300" });

        Assert.Equal(RedisProtocol.Resp3, config.Protocol);
        Assert.Equal(200, config.ConnectTimeout);
        Assert.Equal(1000, config.SyncTimeout);
        Assert.Equal(300, config.AsyncTimeout);
    }

    [Fact]
    public void Configure_TimeoutSetting_IsTheDeadlineOfEveryCall()
    {
        var config = RedisConnector.Configure(new RedisOptions { Configuration = "127.0.0.1:6379", TimeoutMilliseconds = 2500 });

        Assert.Equal(2500, config.SyncTimeout);
        Assert.Equal(2500, config.AsyncTimeout);
    }

    [Fact]
    public async Task StartAsync_RedisThatNeverAnswers_ReturnsAtOnce_AndCallsFailFast()
    {
        // A listener that accepts and never answers: the client's handshake waits for its connect timeout.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        await using var connector = new RedisConnector(Options.Create(new GatewayOptions { Redis = new() { Configuration = $"127.0.0.1:{port}" } }));

        var start = connector.StartAsync(CancellationToken.None);

        Assert.True(start.IsCompletedSuccessfully);
        Assert.False(connector.Multiplexer.IsCompleted);
        var db = await connector.DatabaseAsync();
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<Exception>(() => db.PingAsync());
        Assert.InRange(elapsed.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(4));
    }
}
