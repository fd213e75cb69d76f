using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using TokenGateway.Keys;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Keys;

/// <summary>The key lookup every metered request starts with (issue 14: it must not allocate once the key is known).</summary>
public sealed class KeyStoreTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private GatewayHost _gw = null!;

    public async Task InitializeAsync() => _gw = await GatewayHost.StartAsync(redis);

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    private static HttpRequest Presenting(string header, string value)
    {
        var request = new DefaultHttpContext().Request;
        request.Headers[header] = value;
        return request;
    }

    [Fact]
    public async Task FindForRequest_KnownKey_ReturnsItsAccountAndHash_AndACachedLookupAllocatesNothing()
    {
        var account = "ks-" + Guid.NewGuid().ToString("N")[..8];
        var key = await _gw.FundedKeyAsync(account);
        var keys = _gw.Services.GetRequiredService<KeyStore>();
        var request = Presenting("Authorization", "Bearer " + key);

        var found = await keys.FindForRequestAsync(request);
        for (var i = 0; i < 3; i++) await keys.FindForRequestAsync(request);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var hit = keys.FindForRequestAsync(request);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(account, found!.Value.Key.AccountId);
        Assert.Equal(GatewayKeySecret.Hash(key), found.Value.SecretHash);
        Assert.True(hit.IsCompletedSuccessfully);
        Assert.Equal(found, await hit);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public async Task FindForRequest_OtherKeyHeaders_UnknownAndForeignKeys()
    {
        var key = await _gw.FundedKeyAsync("ks-" + Guid.NewGuid().ToString("N")[..8]);
        var keys = _gw.Services.GetRequiredService<KeyStore>();

        Assert.NotNull(await keys.FindForRequestAsync(Presenting("api-key", " " + key + " ")));
        Assert.NotNull(await keys.FindForRequestAsync(Presenting("x-api-key", key)));
        // Unknown (asked of Redis, not cached), not a gateway key (an upstream key pasted by mistake), and none at all.
        Assert.Null(await keys.FindForRequestAsync(Presenting("Authorization", "Bearer " + key[..^1] + (key[^1] == 'A' ? 'B' : 'A'))));
        Assert.Null(await keys.FindForRequestAsync(Presenting("Authorization", "Bearer sk-proj-abc")));
        Assert.Null(await keys.FindForRequestAsync(new DefaultHttpContext().Request));
    }
}
