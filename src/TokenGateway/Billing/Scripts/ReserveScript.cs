using StackExchange.Redis;
using TokenGateway.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// reserve.lua: checks the key, the model allowlist and every limit, then places a hold (a lease) for the request's
/// worst-case cost. After <see cref="AccountId"/> (whose keys the script gets, then KEYS[9] = the key's hash), the
/// members are the script's arguments in its order; the month (yyyymm) is the one of <see cref="Now"/>, and
/// <see cref="MaxHoldShare"/> (the share of the room a request without an explicit output limit may hold) is sent in
/// parts per million, an integer the script computes with exactly.
/// </summary>
internal readonly record struct ReserveScript(
    string AccountId,
    string KeySha, DateTimeOffset Now, string RequestId, string Model, string KeyId,
    long InputCostMicros, long OutputPicosPerToken, int MaxOutputTokens, int Choices, bool ExplicitOutputLimit,
    int MinimumOutputTokens, long OverdraftMicros, TimeSpan HoldTtl, double MaxHoldShare)
{
    public static readonly string Text = BillingScripts.Load("reserve");

    public async Task<ReserveResult> RunAsync(IDatabase db)
    {
        var keys = new AccountKeys(AccountId);
        return Decode(await db.ScriptEvaluateAsync(Text, keys.ScriptKeys(keys.Key(KeyId)),
        [
            KeySha, Now.ToUnixTimeMilliseconds(), RequestId, Model, BillingScripts.Month(Now), KeyId,
            InputCostMicros, OutputPicosPerToken, MaxOutputTokens, Choices, ExplicitOutputLimit ? 1 : 0,
            MinimumOutputTokens, OverdraftMicros, (long)HoldTtl.TotalMilliseconds, (long)Math.Round(MaxHoldShare * 1_000_000),
        ]));
    }

    /// <summary>{0, hold, output tokens granted} | {1} bad key or archived project | {2} model not allowed | {3, limit, room, needed, project}.</summary>
    private static ReserveResult Decode(RedisResult reply)
    {
        var r = (RedisResult[])reply!;
        return (int)r[0] switch
        {
            0 => new ReserveResult(ReserveStatus.Reserved, HoldMicros: (long)r[1], GrantedOutputTokens: (int)r[2]),
            1 => new ReserveResult(ReserveStatus.InvalidKey),
            2 => new ReserveResult(ReserveStatus.ModelNotAllowed),
            3 => new ReserveResult(ReserveStatus.InsufficientQuota, Limit: ParseLimit((string?)r[1]), RoomMicros: (long)r[2], NeededMicros: (long)r[3], ProjectId: (string?)r[4]),
            var status => throw new InvalidOperationException($"reserve.lua returned an unknown status {status}."),
        };
    }

    private static QuotaLimit ParseLimit(string? limit) => limit switch
    {
        "balance" => QuotaLimit.Balance,
        "hard_limit" => QuotaLimit.HardLimit,
        "key_budget" => QuotaLimit.KeyBudget,
        "project_limit" => QuotaLimit.ProjectLimit,
        _ => throw new InvalidOperationException($"reserve.lua refused for an unknown limit '{limit}'."),
    };
}
