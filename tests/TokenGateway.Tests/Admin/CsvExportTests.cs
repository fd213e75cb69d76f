using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Admin;

/// <summary>ledger.csv and usage.csv: streamed, the same rows and numbers as the JSON ledger and report, with their filters.</summary>
public sealed class CsvExportTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private static readonly DateTimeOffset Day1 = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    private static List<Dictionary<string, string>> Parse(string csv)
    {
        var lines = csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].Split(',');
        Assert.DoesNotContain('"', csv); // nothing here needs quoting
        return [.. lines.Skip(1).Select(l => header.Zip(l.Split(',')).ToDictionary(p => p.First, p => p.Second))];
    }

    [Fact]
    public async Task LedgerCsv_IsStreamed_PageAfterPage_WithEveryEntryAsTheJsonLedgerShowsIt_AndItsFilters()
    {
        var clock = new FakeTimeProvider(Day1);
        await using var gw = await GatewayHost.StartAsync(redis, clock: clock);
        gw.Upstream.Options.PromptTokens = 40;
        gw.Upstream.Options.CompletionTokens = 100;
        var account = "csv-" + Guid.NewGuid().ToString("N")[..8];
        await gw.CreateAccountAsync(account);
        await gw.AddCreditsAsync(account, 50m);
        (await gw.Admin.PostAsJsonAsync($"/admin/accounts/{account}/projects", new { id = "web" })).EnsureSuccessStatusCode();
        var (_, web) = await gw.CreateKeyAsync(account, new { name = "w", project = "web" });
        var (_, plain) = await gw.CreateKeyAsync(account);
        // More than one page of 500: 300 debits on day 1, 250 on day 2.
        Assert.All(await gw.ChatManyAsync(web, 300, maxTokens: 100), s => Assert.Equal(HttpStatusCode.OK, s));
        clock.Advance(TimeSpan.FromDays(1));
        Assert.All(await gw.ChatManyAsync(plain, 250, maxTokens: 100), s => Assert.Equal(HttpStatusCode.OK, s));
        var ledger = await gw.LedgerAsync(account, pageSize: 1000);

        using var response = await gw.Admin.GetAsync($"/admin/accounts/{account}/ledger.csv", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        Assert.Null(response.Content.Headers.ContentLength); // streamed (chunked), not buffered
        Assert.Contains("ledger-" + account + ".csv", response.Content.Headers.ContentDisposition?.ToString());
        var rows = Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(551, rows.Count);
        Assert.Equal(ledger.Select(e => e.GetProperty("id").GetString()), rows.Select(r => r["id"]));
        foreach (var (row, entry) in rows.Zip(ledger))
        {
            Assert.Equal(entry.GetProperty("type").GetString(), row["type"]);
            Assert.Equal(entry.GetProperty("amount_micros").GetInt64(), long.Parse(row["amount_micros"], CultureInfo.InvariantCulture));
            Assert.Equal(entry.GetProperty("amount_usd").GetDecimal(), decimal.Parse(row["amount_usd"], CultureInfo.InvariantCulture));
            Assert.Equal(entry.GetProperty("balance_micros").GetInt64(), long.Parse(row["balance_micros"], CultureInfo.InvariantCulture));
            Assert.Equal(entry.GetProperty("created_at").GetDateTimeOffset(), DateTimeOffset.Parse(row["created_at"], CultureInfo.InvariantCulture));
            if (row["type"] != "debit") continue;
            Assert.Equal(entry.GetProperty("project_id").GetString(), row["project_id"]);
            Assert.Equal(entry.GetProperty("key_id").GetString(), row["key_id"]);
            Assert.Equal(entry.GetProperty("output_tokens").GetInt64(), long.Parse(row["output_tokens"], CultureInfo.InvariantCulture));
        }
        Assert.Equal(300, rows.Count(r => r["project_id"] == "web"));
        Assert.Equal(250, rows.Count(r => r["project_id"] == "default"));

        // Filters: a day (the grant and 300 debits), a limit, and a cursor.
        var day2 = Parse(await gw.Admin.GetStringAsync($"/admin/accounts/{account}/ledger.csv?from=2026-11-21&to=2026-11-21"));
        Assert.Equal(250, day2.Count);
        Assert.All(day2, r => Assert.Equal("default", r["project_id"]));
        Assert.Equal(301, Parse(await gw.Admin.GetStringAsync($"/admin/accounts/{account}/ledger.csv?to=2026-11-20")).Count);
        var firstTen = Parse(await gw.Admin.GetStringAsync($"/admin/accounts/{account}/ledger.csv?limit=10"));
        Assert.Equal(rows.Take(10).Select(r => r["id"]), firstTen.Select(r => r["id"]));
        var afterTen = Parse(await gw.Admin.GetStringAsync($"/admin/accounts/{account}/ledger.csv?cursor={firstTen[^1]["id"]}"));
        Assert.Equal(rows.Skip(10).Select(r => r["id"]), afterTen.Select(r => r["id"]));
        Assert.Equal(HttpStatusCode.BadRequest, (await gw.Admin.GetAsync($"/admin/accounts/{account}/ledger.csv?from=yesterday")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await gw.Admin.GetAsync("/admin/accounts/nobody-here/ledger.csv")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await gw.Http.GetAsync($"/admin/accounts/{account}/ledger.csv")).StatusCode);

        // usage.csv: one row per day, project, key and model; grouped, the same numbers as the JSON report.
        var usage = Parse(await gw.Admin.GetStringAsync($"/admin/accounts/{account}/usage.csv?from=2026-11-20&to=2026-11-21"));
        Assert.Equal(2, usage.Count);
        Assert.Equal(("2026-11-20", "web", "300"), (usage[0]["date"], usage[0]["project_id"], usage[0]["requests"]));
        Assert.Equal(("2026-11-21", "default", "250"), (usage[1]["date"], usage[1]["project_id"], usage[1]["requests"]));
        var debitSum = -ledger.Where(e => e.GetProperty("type").GetString() == "debit").Sum(e => e.GetProperty("amount_micros").GetInt64());
        Assert.Equal(debitSum, usage.Sum(r => long.Parse(r["cost_micros"], CultureInfo.InvariantCulture)));
        var byProject = Parse(await gw.Admin.GetStringAsync($"/admin/accounts/{account}/usage.csv?from=2026-11-20&to=2026-11-21&group_by=project"));
        var report = (await gw.Admin.GetFromJsonAsync<JsonElement>($"/admin/accounts/{account}/usage?from=2026-11-20&to=2026-11-21&group_by=project")).GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(report.Select(r => (r.GetProperty("project_id").GetString(), r.GetProperty("cost_micros").GetInt64(), r.GetProperty("input_tokens").GetInt64())),
            byProject.Select(r => ((string?)r["project_id"], long.Parse(r["cost_micros"], CultureInfo.InvariantCulture), long.Parse(r["input_tokens"], CultureInfo.InvariantCulture))));
        Assert.Equal(HttpStatusCode.BadRequest, (await gw.Admin.GetAsync($"/admin/accounts/{account}/usage.csv?group_by=user")).StatusCode);
    }
}
