using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Mvc;
using TokenGateway.Admin;
using TokenGateway.Billing;

namespace TokenGateway.BillingConsole.Pages;

/// <summary>The ledger, oldest first, paged and filterable by kind; the CSV has every entry of the filter.</summary>
public sealed class TransactionsModel : ConsolePageModel
{
    public const int PageSize = 50;

    internal IReadOnlyList<LedgerEntry> Entries { get; private set; } = [];
    public string? Next { get; private set; }
    public string? Kind { get; private set; }

    public async Task<IActionResult> OnGetAsync([FromQuery] string? type, [FromQuery] string? cursor)
    {
        ViewData["Section"] = "transactions";
        Kind = ConsoleData.LedgerKinds.Contains(type) ? type : null;
        if (cursor is not null && !AdminQuery.IsLedgerCursor(cursor)) cursor = null;
        (var entries, Next) = await Service<ConsoleData>().LedgerPageAsync(Account, Kind, cursor, PageSize);
        Entries = entries;
        return Page();
    }

    public async Task<IActionResult> OnGetCsvAsync([FromQuery] string? type)
    {
        Kind = ConsoleData.LedgerKinds.Contains(type) ? type : null;
        var csv = new StringBuilder("id,created_at,type,source,amount_usd,amount_micros,balance_micros,model,key_id,request_id,grant_id\n");
        await foreach (var e in Service<ConsoleData>().LedgerAsync(Account, Kind))
        {
            var f = e.Fields;
            var amount = long.Parse(f["amount"], CultureInfo.InvariantCulture);
            csv.Append(CultureInfo.InvariantCulture,
                $"{e.Id},{Created(e):yyyy-MM-ddTHH:mm:ss.fffZ},{ConsoleData.KindOf(e)},{Csv.Field(f.GetValueOrDefault("source"))},{ConsoleFormat.Plain(amount)},{amount},{f["balance"]},{Csv.Field(f.GetValueOrDefault("model"))},{Csv.Field(f.GetValueOrDefault("key_id"))},{Csv.Field(f.GetValueOrDefault("request_id"))},{Csv.Field(f.GetValueOrDefault("grant_id"))}\n");
        }
        return File(Encoding.UTF8.GetBytes(csv.ToString()), "text/csv; charset=utf-8", $"transactions-{Account}{(Kind is null ? "" : "-" + Kind)}.csv");
    }

    internal static DateTime Created(LedgerEntry e) => DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(e.Fields["ts"], CultureInfo.InvariantCulture)).UtcDateTime;

    internal static string Detail(LedgerEntry e)
    {
        var f = e.Fields;
        return ConsoleData.KindOf(e) switch
        {
            "debit" => $"{f.GetValueOrDefault("model")} · key {f.GetValueOrDefault("key_id")} · {f.GetValueOrDefault("input_tokens") ?? "0"} in / {f.GetValueOrDefault("output_tokens") ?? "0"} out tokens",
            "grant" or "recharge" => $"{f.GetValueOrDefault("source")} grant {f.GetValueOrDefault("grant_id")}",
            "expiry" => $"grant {f.GetValueOrDefault("grant_id")} expired",
            _ => "",
        };
    }
}
