using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TokenGateway.Configuration;
using TokenGateway.Metering;
using TokenGateway.Pricing;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Pricing;

public sealed class PricingTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string File1 = """
        { "service_tiers": { "flex": 0.5, "priority": 2 },
          "tool_calls": { "web_search_call": 25, "file_search_call": 2.5 },
          "models": {
            "gpt-4o-mini": { "input": 0.15, "cached_input": 0.075, "output": 0.60, "max_output_tokens": 16384, "aliases": ["gpt-4o-mini-2024-07-18"] },
            "gpt-4o":      { "input": 2.50, "cached_input": 1.25, "output": 10.00, "dated_snapshots": true,
                             "service_tiers": { "priority": { "input": 4.25, "cached_input": 2.125, "output": 17 } },
                             "tool_calls": { "web_search_call": 10 } },
            "o1":          { "input": 15, "cached_input": 7.5, "output": 60 },
            "o1-pro":      { "input": 150, "output": 600 },
            "gpt-audio":   { "input": 2.5, "output": 10, "audio_input": 32, "audio_output": 64 },
            "gpt-5.4":     { "input": 2.5, "cached_input": 0.25, "output": 15, "cache_write": 3.125, "image_input": 5,
                             "long_context": { "threshold_tokens": 271999, "input": 5, "cached_input": 0.5, "output": 22.5 } },
            "ft:*":        { "input": 3, "output": 12 },
            "text-embedding-3-small": { "kind": "embedding", "input": 0.02 } } }
        """;

    private static PricingTable Table => PricingTable.Parse(Encoding.UTF8.GetBytes(File1));

    private static ModelPrice Price(string model) => Table.Find(model)!.Value.Price;

    [Theory]
    [InlineData("gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini")]
    [InlineData("gpt-4o-mini-2024-07-18", "gpt-4o-mini", "gpt-4o-mini-2024-07-18")]   // alias: its own label
    [InlineData("gpt-4o-2024-08-06", "gpt-4o", "gpt-4o")]                              // dated snapshot of an entry that allows them
    [InlineData("o1-pro", "o1-pro", "o1-pro")]                                          // never o1's price
    [InlineData("ft:gpt-4o:acme::abc", "ft:*", "ft:*")]                                // an operator's prefix: labelled by the entry
    [InlineData("gpt-4o-mini-2099-01-01", null, null)]                                  // no dated snapshots for this entry
    [InlineData("gpt-4o-mini-anything", null, null)]                                    // an arbitrary suffix is not priced
    [InlineData("o1-preview", null, null)]
    [InlineData("gpt-4o-2024-08-06x", null, null)]
    [InlineData("gpt-4o-2024-08-06\n", null, null)]
    public void Find_ExactAliasSnapshotThenPrefix(string model, string? entry, string? label)
    {
        var match = Table.Find(model);
        Assert.Equal(entry, match?.Price.Entry);
        Assert.Equal(label, match?.Label);
    }

    [Fact]
    public void Find_StarEntry_CatchesEverythingElse()
    {
        var table = PricingTable.Parse("""{"models":{"*":{"input":1,"output":2},"gpt-4o*":{"input":2.5,"output":10}}}"""u8);
        Assert.Equal("*", table.Find("llama-3")?.Price.Entry);
        Assert.Equal("gpt-4o*", table.Find("gpt-4o")?.Price.Entry);
    }

    [Theory]
    [InlineData(1234, 1000, 567, 451)]   // 35.1 + 75 + 340.2 = 450.3 → 451: rounded up once
    [InlineData(1, 0, 0, 1)]             // 0.15 → 1: never metered as $0
    [InlineData(0, 0, 0, 0)]
    [InlineData(1000, 0, 1000, 750)]     // exact: 150 + 600
    [InlineData(100, 500, 0, 8)]         // cached above prompt is clamped: 100 * 0.075 = 7.5 → 8
    public void Cost_FollowsTheFormula_RoundingUpOncePerRequest(long prompt, long cached, long completion, long expected)
    {
        Assert.Equal(expected, Price("gpt-4o-mini").Cost(new TokenUsage(prompt, cached, completion)).Micros);
    }

    [Fact]
    public void Cost_AudioTokens_AtTheirOwnPrices()
    {
        // gpt-audio: text in 100-30=70 × 2.5 = 175, audio in 30 × 32 = 960, text out 50-20=30 × 10 = 300, audio out 20 × 64 = 1280 → 2715
        var charge = Price("gpt-audio").Cost(new TokenUsage(100, 0, 50) { AudioInput = 30, AudioOutput = 20 });
        Assert.Equal(2715, charge.Micros);
        Assert.Equal(["input:70", "audio_input:30", "output:30", "audio_output:20"], charge.Lines.Select(l => $"{l.Name}:{l.Quantity}"));
    }

    [Fact]
    public void Cost_AudioWithoutAnAudioPrice_IsNeverFree()
    {
        // gpt-4o has no audio price: audio tokens fall back to the text price of their direction.
        Assert.Equal(Price("gpt-4o").Cost(new TokenUsage(100, 0, 50)).Micros, Price("gpt-4o").Cost(new TokenUsage(100, 0, 50) { AudioInput = 40, AudioOutput = 10 }).Micros);
    }

    [Theory]
    [InlineData("default", 3000)]
    [InlineData("auto", 3000)]
    [InlineData(null, 3000)]
    [InlineData("flex", 1500)]      // no published flex price: standard × 0.5
    [InlineData("priority", 5100)]  // published: 200 × 4.25 + 250 × 17 = 850 + 4250
    public void Cost_TierFromTheResponse_SelectsItsPrices(string? tier, long expected)
    {
        // gpt-4o standard: 200 × 2.5 + 250 × 10 = 500 + 2500 = 3000
        Assert.Equal(expected, Price("gpt-4o").Cost(new TokenUsage(200, 0, 250) { ServiceTier = tier }).Micros);
    }

    [Fact]
    public void Cost_FlexMultiplier_StaysExact_RoundedOnce()
    {
        // gpt-4o-mini flex: 0.075 per input token, 0.30 per output: 3 × 0.075 + 1 × 0.3 = 0.525 → 1
        Assert.Equal(1, Price("gpt-4o-mini").Cost(new TokenUsage(3, 0, 1) { ServiceTier = "flex" }).Micros);
    }

    [Theory]
    [InlineData(271999, 679_248)]     // at the threshold, standard: 270999 × 2.5 + 1000 × 0.25 + 100 × 15 = 677497.5 + 250 + 1500 → 679248
    [InlineData(272000, 1_357_750)]   // above it, long context: 271000 × 5 + 1000 × 0.5 + 100 × 22.5 = 1355000 + 500 + 2250
    public void Cost_LongContext_AppliesAboveTheThreshold(long prompt, long expected)
    {
        Assert.Equal(expected, Price("gpt-5.4").Cost(new TokenUsage(prompt, 1000, 100)).Micros);
    }

    [Fact]
    public void Cost_ToolCalls_PerCall_ModelFeeThenFileDefault()
    {
        // gpt-4o: web search $10/1k = 10,000 µ$ a call (its own fee); file search $2.5/1k = 2,500 µ$ (the file's default).
        var charge = Price("gpt-4o").Cost(new TokenUsage(0, 0, 0) { WebSearchCalls = 2, FileSearchCalls = 1 });
        Assert.Equal(22_500, charge.Micros);
        // o1 has no fee of its own: the file's defaults, web $25/1k.
        Assert.Equal(52_500, Price("o1").Cost(new TokenUsage(0, 0, 0) { WebSearchCalls = 2, FileSearchCalls = 1 }).Micros);
    }

    [Fact]
    public void Cost_CacheWritesAndImages_AtTheirOwnPrices()
    {
        // gpt-5.4: 1000 prompt = 100 cached × 0.25 + 200 written × 3.125 + 300 image × 5 + 400 text × 2.5 = 25 + 625 + 1500 + 1000 = 3150
        Assert.Equal(3150, Price("gpt-5.4").Cost(new TokenUsage(1000, 100, 0) { CacheWrite = 200, ImageInput = 300 }).Micros);
    }

    [Fact]
    public void Hold_AssumesTheTierTheContextAndTheToolCalls()
    {
        var price = Price("gpt-4o");
        Assert.Equal((2500, 10_000_000L), price.HoldPrices(ServiceTier.Default, 1000, 0));
        Assert.Equal((4250 + 3 * 10_000, 17_000_000L), price.HoldPrices(price.WorstTier("priority"), 1000, 3));
        Assert.Equal(ServiceTier.Default, price.WorstTier("auto"));
        Assert.Equal((5_000_000, 22_500_000L), Price("gpt-5.4").HoldPrices(ServiceTier.Default, 1_000_000, 0));
        // auto may be served on priority when the file says so: the hold assumes it.
        var autoPriority = PricingTable.Parse("""{"auto_tiers":["default","priority"],"models":{"m":{"input":1,"output":2}}}"""u8).Find("m")!.Value.Price;
        Assert.Equal(ServiceTier.Priority, autoPriority.WorstTier(null));
    }

    [Theory]
    [InlineData("""{"models":{"m":{"output":1}}}""", "\"input\"")]
    [InlineData("""{"models":{"m":{"input":1}}}""", "\"output\" is required")]
    [InlineData("""{"models":{"m":{"input":-1,"output":1}}}""", "\"input\"")]
    [InlineData("""{"models":{"m":{"input":0.0000001,"output":1}}}""", "6 decimals")]
    [InlineData("""{"models":{"m":{"input":1,"output":1,"max_output_tokens":"16384"}}}""", "max_output_tokens")]
    [InlineData("""{"models":{"m":{"input":"1","output":1}}}""", "\"input\"")]
    [InlineData("""{"models":{"m":{"input":1,"ouput":1}}}""", "ouput")]
    [InlineData("""{"models":{"m":{"input":1,"output":1,"service_tiers":{"turbo":{"input":1,"output":1}}}}}""", "service_tiers")]
    [InlineData("""{"models":{"m":{"input":1,"output":1,"long_context":{"input":2}}}}""", "threshold_tokens")]
    [InlineData("""{"models":{"m":{"input":1,"output":1,"aliases":["n"]},"n":{"input":1,"output":1}}}""", "listed twice")]
    [InlineData("""{"models":{"m":{"input":1,"output":1,"tool_calls":{"code_interpreter":1}}}}""", "code_interpreter")]
    [InlineData("""{"models":{"m":{"kind":"audio","input":1}}}""", "kind")]
    [InlineData("""{"models":{"m":[]}}""", "\"m\"")]
    [InlineData("""{"models":{"m":{"input":1,"output":1},"m":{"input":2,"output":2}}}""", "JSON")]
    [InlineData("""{"prices":{}}""", "models")]
    [InlineData("""[]""", "models")]
    [InlineData("""{"models":{}} trailing""", "JSON")]
    public void Parse_RejectsBadFiles_NamingTheProblem(string json, string named)
    {
        var e = Assert.Throws<FormatException>(() => PricingTable.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Contains(named, e.Message);
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

            foreach (var bad in new[] { "{ not json", "[]", """{"models":{"gpt-4":{"input":30,"output":60,"max_output_tokens":"16384"}}}""" })
            {
                await File.WriteAllTextAsync(path, bad);
                catalog.Reload();
                Assert.Equal(60_000_000m, catalog.Current.Find("gpt-4")!.Value.Price.Standard.Output);
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task ShippedDefaultFile_PricesCurrentModelsExactly()
    {
        var table = PricingTable.Parse(await File.ReadAllBytesAsync(Path.Combine(AppContext.BaseDirectory, "pricing.json")));
        foreach (var model in new[] { "gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-mini", "gpt-4.1", "gpt-5", "o1-pro", "o3", "o4-mini", "text-embedding-3-small", "gpt-3.5-turbo-instruct" })
            Assert.NotNull(table.Find(model));
        foreach (var model in new[] { "some-unknown-model", "gpt-4o-mini-x", "o1-pro-max", "gpt-4o-2024-08-06-beta" })
            Assert.Null(table.Find(model));
        Assert.Equal(150_000_000m, table.Find("o1-pro")!.Value.Price.Standard.Input);
        Assert.Equal(5_000_000m, table.Find("gpt-4o-2024-05-13")!.Value.Price.Standard.Input);
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
