using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TokenGateway.Configuration;
using TokenGateway.Pricing;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Pricing;

public sealed class PricingTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string File1 = """
        { "models": {
            "gpt-4o-mini": { "input": 0.15, "cached_input": 0.075, "output": 0.60, "max_output_tokens": 16384 },
            "gpt-4o*":     { "input": 2.50, "cached_input": 1.25,  "output": 10.00 },
            "gpt-4o-mini*":{ "input": 0.30, "output": 1.20 },
            "text-embedding-3-small": { "input": 0.02 } } }
        """;

    [Theory]
    [InlineData("gpt-4o-mini", "gpt-4o-mini")]
    [InlineData("gpt-4o-mini-2024-07-18", "gpt-4o-mini*")]
    [InlineData("gpt-4o-2024-11-20", "gpt-4o*")]
    [InlineData("gpt-4o", "gpt-4o*")]
    [InlineData("text-embedding-3-small", "text-embedding-3-small")]
    [InlineData("gpt-4", null)]
    [InlineData("text-embedding-3-small-v2", null)]
    public void Find_ExactThenLongestPrefix(string model, string? entry)
    {
        Assert.Equal(entry, PricingTable.Parse(Encoding.UTF8.GetBytes(File1)).Find(model)?.Entry);
    }

    [Fact]
    public void Find_StarEntry_CatchesEverythingElse()
    {
        var table = PricingTable.Parse("""{"models":{"*":{"input":1,"output":2},"gpt-4o*":{"input":2.5,"output":10}}}"""u8);
        Assert.Equal("*", table.Find("llama-3")?.Entry);
        Assert.Equal("gpt-4o*", table.Find("gpt-4o")?.Entry);
    }

    [Theory]
    [InlineData(1234, 1000, 567, 451)]   // 35.1 + 75 + 340.2 = 450.3 → 451: rounded up once
    [InlineData(1, 0, 0, 1)]             // 0.15 → 1: never metered as $0
    [InlineData(0, 0, 0, 0)]
    [InlineData(1000, 0, 1000, 750)]     // exact: 150 + 600
    [InlineData(100, 500, 0, 8)]         // cached above prompt is clamped: 100 * 0.075 = 7.5 → 8
    public void Cost_FollowsTheFormula_RoundingUpOncePerRequest(long prompt, long cached, long completion, long expected)
    {
        var price = PricingTable.Parse(Encoding.UTF8.GetBytes(File1)).Find("gpt-4o-mini")!;
        Assert.Equal(expected, price.CostMicros(prompt, cached, completion));
    }

    [Theory]
    [InlineData("""{"models":{"m":{"output":1}}}""")]
    [InlineData("""{"models":{"m":{"input":-1}}}""")]
    [InlineData("""{"models":{"m":{"input":0.0000001}}}""")]
    [InlineData("""{"prices":{}}""")]
    public void Parse_RejectsBadFiles(string json)
    {
        Assert.Throws<FormatException>(() => PricingTable.Parse(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public async Task Catalog_ReloadsWhenTheFileChanges_AndKeepsOldPricesOnABadFile()
    {
        var dir = Directory.CreateTempSubdirectory("tg-pricing-").FullName;
        try
        {
            var path = Path.Combine(dir, "pricing.json");
            await File.WriteAllTextAsync(path, File1);
            var options = Options.Create(new GatewayOptions { Pricing = { File = path } });
            using var catalog = new PricingCatalog(options, NullLogger<PricingCatalog>.Instance);
            Assert.Null(catalog.Current.Find("gpt-4"));

            await File.WriteAllTextAsync(path, """{"models":{"gpt-4":{"input":30,"output":60}}}""");
            await WaitUntil(() => catalog.Current.Find("gpt-4") is not null);

            await File.WriteAllTextAsync(path, "{ not json");
            await Task.Delay(600);
            Assert.NotNull(catalog.Current.Find("gpt-4"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task ShippedDefaultFile_PricesCurrentModels()
    {
        var table = PricingTable.Parse(await File.ReadAllBytesAsync(Path.Combine(AppContext.BaseDirectory, "pricing.json")));
        foreach (var model in new[] { "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-5", "o3", "o4-mini", "text-embedding-3-small", "gpt-3.5-turbo-instruct" })
            Assert.NotNull(table.Find(model));
        Assert.Null(table.Find("some-unknown-model"));
    }

    [Fact]
    public async Task Gateway_RefusesToStart_WithAMessageNamingTheSetting()
    {
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Upstream:BaseUrl"] = "not a url" }));
        Assert.Contains("TokenGateway:Upstream:BaseUrl", e.Message);
        e = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Pricing:File"] = "/nonexistent/pricing.json" }));
        Assert.Contains("TokenGateway:Pricing:File", e.Message);
        e = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Admin:Token"] = "REPLACE_ME" }));
        Assert.Contains("TokenGateway:Admin:Token", e.Message);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 100 && !condition(); i++) await Task.Delay(50);
        Assert.True(condition());
    }
}
