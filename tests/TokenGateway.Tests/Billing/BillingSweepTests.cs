using StackExchange.Redis;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Billing;

/// <summary>The sweep handles each account on its own: one whose script fails does not stop the others.</summary>
public sealed class BillingSweepTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private static readonly DateTimeOffset Start = new(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Sweep_GoesOnPastAnAccountWhoseScriptFails()
    {
        var clock = new FakeTimeProvider(Start);
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Billing:SweepSeconds"] = "1" }, clock);
        using var client = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var db = client.GetDatabase();
        var created = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var account = "sweep-" + i + "-" + Guid.NewGuid().ToString("N")[..6];
            await gw.CreateAccountAsync(account);
            await gw.AddCreditsAsync(account, 10m, expiresAt: Start.AddDays(30));
            created.Add(account);
        }
        // The order the sweep goes through them (the set is not changed again): the first one is broken, so every other
        // account comes after it.
        var order = (await db.SetMembersAsync("tg:accounts")).Select(v => (string)v!).Where(created.Contains).ToList();
        var broken = order[0];
        var last = order[^1];
        // A key of the wrong type under the account's tag: its sweep script fails with WRONGTYPE (grant expiry).
        await db.KeyDeleteAsync("{acct:" + broken + "}:grant_order");
        await db.StringSetAsync("{acct:" + broken + "}:grant_order", "not a sorted set");
        // An event of the last account that is due: only the sweep can queue it (nothing else knows it exists).
        await db.HashSetAsync("{acct:" + last + "}:outbox", "test:event",
            $$$"""{"type":"soft_limit.crossed","ts":"{{{Start.ToUnixTimeMilliseconds()}}}","data":{"month":"202611"}}""");
        await db.SortedSetAddAsync("{acct:" + last + "}:outbox_due", "test:event", Start.ToUnixTimeMilliseconds());

        clock.SetUtcNow(Start.AddDays(31));

        // Read Redis directly: a gateway read would apply the expiry itself.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        async Task<bool> SweptAsync()
        {
            foreach (var account in order.Skip(1))
                if ((long)await db.HashGetAsync("{acct:" + account + "}", "balance") != 0) return false;
            return !await db.HashExistsAsync("{acct:" + last + "}:outbox", "test:event");
        }
        while (!await SweptAsync() && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.True(await SweptAsync(), "the accounts after the broken one were not swept (grants expired, due event delivered)");
        Assert.Equal(10_000_000, (long)await db.HashGetAsync("{acct:" + broken + "}", "balance"));

        // And again on the next round: the broken account keeps failing, the others keep being swept.
        await gw.AddCreditsAsync(last, 5m, expiresAt: Start.AddDays(32));
        clock.SetUtcNow(Start.AddDays(33));
        deadline = DateTime.UtcNow.AddSeconds(15);
        while ((long)await db.HashGetAsync("{acct:" + last + "}", "balance") != 0 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal(0, (long)await db.HashGetAsync("{acct:" + last + "}", "balance"));
    }
}
