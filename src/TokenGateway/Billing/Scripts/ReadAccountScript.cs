using System.Globalization;
using StackExchange.Redis;
using TokenGateway.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// read_account.lua: reads an account after applying lease and grant expiry, so what an operator sees is current.
/// The argument is now; the month's spend and recharges are those of <see cref="Now"/>.
/// </summary>
internal readonly record struct ReadAccountScript(string AccountId, DateTimeOffset Now)
{
    public static readonly BillingScript Script = new("read_account");

    public static string Text => Script.Text;

    public async Task<AccountSnapshot?> RunAsync(IDatabase db) =>
        Decode(await Script.EvaluateAsync(db, new AccountKeys(AccountId).ScriptKeys(), [Now.ToUnixTimeMilliseconds()]));

    /// <summary>{account hash as a flat list, grants hash as a flat list} | {} when the account does not exist.</summary>
    private AccountSnapshot? Decode(RedisResult reply)
    {
        var r = (RedisResult[])reply!;
        if (r.Length == 0) return null;
        var fields = Pairs(r[0]);
        var grantFields = Pairs(r[1]);
        var grants = new List<GrantSnapshot>();
        foreach (var (field, meta) in grantFields)
        {
            // A grant is two fields: its id → what remains, and "id:meta" → amount|source|created ms|expires ms.
            if (!field.EndsWith(":meta", StringComparison.Ordinal)) continue;
            var id = field[..^5];
            var parts = meta.Split('|');
            grants.Add(new GrantSnapshot(id, Long(parts[0]), Long(grantFields[id]), parts[1],
                DateTimeOffset.FromUnixTimeMilliseconds(Long(parts[2])), DateTimeOffset.FromUnixTimeMilliseconds(Long(parts[3]))));
        }
        long Field(string name) => fields.TryGetValue(name, out var v) ? Long(v) : 0;
        long? Optional(string name) => fields.TryGetValue(name, out var v) && v.Length > 0 ? Long(v) : null;
        var month = BillingScripts.Month(Now);
        var autoRecharge = fields.ContainsKey("ar_mode")
            ? new AutoRechargeSettings(fields["ar_enabled"] == "1", Field("ar_threshold"), Field("ar_amount"), Field("ar_limit"), fields["ar_mode"], Optional("ar_target"))
            : null;
        return new AccountSnapshot(AccountId, fields.GetValueOrDefault("name", ""), Field("balance"), Field("held"),
            Field("spend:" + month), Optional("hard_limit"), Optional("soft_limit"), autoRecharge, Field("ar_month:" + month),
            [.. grants.OrderBy(g => g.ExpiresAt)],
            new AlertSettings(AlertSettings.ParsePercentages(fields.GetValueOrDefault("alerts")), Optional("low_balance")));
    }

    private static long Long(string value) => long.Parse(value, CultureInfo.InvariantCulture);

    private static Dictionary<string, string> Pairs(RedisResult flat)
    {
        var items = (RedisResult[])flat!;
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < items.Length; i += 2) map[(string)items[i]!] = (string)items[i + 1]!;
        return map;
    }
}
