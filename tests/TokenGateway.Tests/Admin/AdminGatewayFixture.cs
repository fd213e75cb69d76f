using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Admin;

/// <summary>
/// One redis-server and one gateway for a whole test class whose tests each work on accounts of their own. The table
/// of refusals has over a hundred rows: a gateway per row would add half a minute to the suite.
/// </summary>
public sealed class AdminGatewayFixture : IAsyncLifetime
{
    public RedisServer Redis { get; } = new();
    public GatewayHost Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Redis.InitializeAsync();
        try
        {
            Gateway = await GatewayHost.StartAsync(Redis);
        }
        catch
        {
            await Redis.DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Redis.DisposeAsync();
    }
}
