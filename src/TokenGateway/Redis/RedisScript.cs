using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
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
    private static readonly ConcurrentQueue<RedisScript> Created = new();
    private static readonly Lazy<bool> StaticScriptsCreated = new(CreateStaticScripts);

    private readonly string _text;
    private readonly byte[] _sha1;

    public RedisScript(string text)
    {
        _text = text;
        _sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(text));
        Created.Enqueue(this);
    }

    public string Text => _text;
    public ReadOnlySpan<byte> Sha1 => _sha1;

    /// <summary>
    /// Every script of the process, for the readiness check: the scripts held in static fields of any type
    /// of this assembly (created here if their type was not used yet) and any created since.
    /// </summary>
    public static IReadOnlyCollection<RedisScript> All
    {
        get
        {
            _ = StaticScriptsCreated.Value;
            return Created;
        }
    }

    // NOTE: static fields are initialised on first use of their type, which may come after the first
    // readiness probe: running the type initialisers lists scripts added anywhere without a list to maintain.
    private static bool CreateStaticScripts()
    {
        const BindingFlags statics = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
        foreach (var type in typeof(RedisScript).Assembly.GetTypes())
        {
            if (!type.ContainsGenericParameters && type.GetFields(statics).Any(f => f.FieldType == typeof(RedisScript)))
                RuntimeHelpers.RunClassConstructor(type.TypeHandle);
        }
        return true;
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
