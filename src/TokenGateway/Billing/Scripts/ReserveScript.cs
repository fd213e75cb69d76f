using StackExchange.Redis;
using TokenGateway.RateLimits;
using TokenGateway.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// reserve.lua: checks the key, the model allowlist and every limit, then places a hold (a lease) for the request's
/// worst-case cost. After <see cref="AccountId"/> (whose keys the script gets, then KEYS[9] = the key's hash), the
/// members are the script's arguments in its order; the month (yyyymm) is the one of <see cref="Now"/>, and
/// <see cref="MaxHoldShare"/> (the share of the room a request without an explicit output limit may hold) is sent in
/// parts per million, an integer the script computes with exactly; <see cref="InputTokenEstimate"/> is what the
/// tokens-per-minute limits charge for the input (with the output limit granted), corrected at settle.
/// </summary>
internal readonly record struct ReserveScript(
    string AccountId,
    string KeySha, DateTimeOffset Now, string RequestId, string Model, string KeyId,
    long InputCostMicros, long OutputPicosPerToken, int MaxOutputTokens, int Choices, bool ExplicitOutputLimit,
    int MinimumOutputTokens, long OverdraftMicros, TimeSpan HoldTtl, double MaxHoldShare, long InputTokenEstimate = 0)
{
    public static readonly BillingScript Script = new("reserve");

    public static string Text => Script.Text;

    public async Task<ReserveResult> RunAsync(IDatabase db)
    {
        var keys = new AccountKeys(AccountId);
        return Decode(await Script.EvaluateAsync(db, keys.ScriptKeys(keys.Key(KeyId)),
        [
            KeySha, Now.ToUnixTimeMilliseconds(), RequestId, Model, BillingScripts.Month(Now), KeyId,
            InputCostMicros, OutputPicosPerToken, MaxOutputTokens, Choices, ExplicitOutputLimit ? 1 : 0,
            MinimumOutputTokens, OverdraftMicros, (long)HoldTtl.TotalMilliseconds, (long)Math.Round(MaxHoldShare * 1_000_000),
            InputTokenEstimate,
        ]));
    }

    /// <summary>
    /// {0, hold, output tokens granted, headers…} | {1} bad key or archived project | {2} model not allowed
    /// | {3, limit, room, needed, project} | {4, window, scope, limit, used, requested, wait ms, per model, project, headers…}.
    /// The headers are six integers: limit, remaining, reset ms of the tightest request limit, then token limit (limit -1: none).
    /// </summary>
    private static ReserveResult Decode(RedisResult reply)
    {
        var r = (RedisResult[])reply!;
        return (int)r[0] switch
        {
            0 => new ReserveResult(ReserveStatus.Reserved, HoldMicros: (long)r[1], GrantedOutputTokens: (int)r[2], RateLimits: Headers(r, 3) is { Any: true } h ? h : null),
            1 => new ReserveResult(ReserveStatus.InvalidKey),
            2 => new ReserveResult(ReserveStatus.ModelNotAllowed),
            3 => new ReserveResult(ReserveStatus.InsufficientQuota, Limit: ParseLimit((string?)r[1]), RoomMicros: (long)r[2], NeededMicros: (long)r[3], ProjectId: (string?)r[4]),
            4 => new ReserveResult(ReserveStatus.RateLimited, ProjectId: (string?)r[8], RateLimited: new RateLimitRefusal(ParseWindow((string?)r[1]),
                ParseScope((string?)r[2]), Limit: (long)r[3], Used: (long)r[4], Requested: (long)r[5], WaitMs: (long)r[6], PerModel: (int)r[7] == 1, Headers(r, 9))),
            var status => throw new InvalidOperationException($"reserve.lua returned an unknown status {status}."),
        };
    }

    private static RateLimitHeaders Headers(RedisResult[] r, int at) =>
        new((long)r[at] is var rl and >= 0 ? rl : null, (long)r[at + 1], (long)r[at + 2], (long)r[at + 3] is var tl and >= 0 ? tl : null, (long)r[at + 4], (long)r[at + 5]);

    private static RateLimitWindow ParseWindow(string? window) => window switch
    {
        "rpm" => RateLimitWindow.Rpm,
        "tpm" => RateLimitWindow.Tpm,
        "rpd" => RateLimitWindow.Rpd,
        "in_flight" => RateLimitWindow.InFlight,
        _ => throw new InvalidOperationException($"reserve.lua refused for an unknown rate limit '{window}'."),
    };

    private static RateLimitScope ParseScope(string? scope) => scope switch
    {
        "key" => RateLimitScope.Key,
        "project" => RateLimitScope.Project,
        "account" => RateLimitScope.Account,
        _ => throw new InvalidOperationException($"reserve.lua refused for an unknown rate-limit scope '{scope}'."),
    };

    private static QuotaLimit ParseLimit(string? limit) => limit switch
    {
        "balance" => QuotaLimit.Balance,
        "hard_limit" => QuotaLimit.HardLimit,
        "key_budget" => QuotaLimit.KeyBudget,
        "project_limit" => QuotaLimit.ProjectLimit,
        _ => throw new InvalidOperationException($"reserve.lua refused for an unknown limit '{limit}'."),
    };
}
