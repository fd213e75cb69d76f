using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace TokenGateway.Redis;

/// <summary>
/// A Lua script run with EVALSHA, falling back to EVAL (which caches it) when a server has not seen
/// it yet — after a restart or on a new cluster node. One round trip in the steady state.
/// </summary>
internal sealed class RedisScript
{
    private readonly string _text;
    private readonly byte[] _sha1;

    public RedisScript(string text)
    {
        _text = text;
        _sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(text));
    }

    public async Task<RedisResult> EvaluateAsync(IDatabase db, RedisKey[] keys, RedisValue[] args)
    {
        try
        {
            return await db.ScriptEvaluateAsync(_sha1, keys, args);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await db.ScriptEvaluateAsync(_text, keys, args);
        }
    }

    /// <summary>Loads an embedded <c>Billing/Scripts/*.lua</c>, prefixed with the shared prelude.</summary>
    public static RedisScript FromResources(string name, string? prelude = "prelude")
    {
        var text = Read(name);
        return new RedisScript(prelude is null ? text : Read(prelude) + "\n" + text);
    }

    private static string Read(string name)
    {
        var assembly = typeof(RedisScript).Assembly;
        using var stream = assembly.GetManifestResourceStream($"TokenGateway.Billing.Scripts.{name}.lua")
            ?? throw new InvalidOperationException($"Embedded script {name}.lua is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
