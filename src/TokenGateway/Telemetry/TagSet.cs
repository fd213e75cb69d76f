using System.Globalization;

namespace TokenGateway.Telemetry;

/// <summary>
/// The labels of one series: tag names with their values as strings, sorted by name, so the same tags
/// recorded in another order are the same series.
/// </summary>
internal sealed class TagSet
{
    private readonly int _hash;

    private TagSet(KeyValuePair<string, string>[] tags, int hash)
    {
        Tags = tags;
        _hash = hash;
    }

    public KeyValuePair<string, string>[] Tags { get; }

    public static TagSet Create(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var byName = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var tag in tags) byName[tag.Key] = Format(tag.Value);
        var array = byName.ToArray();
        var hash = 0;
        foreach (var (key, value) in array) hash += TagHash(key, value);
        return new TagSet(array, hash);
    }

    public static string Format(object? value) => value switch
    {
        null => "",
        string s => s,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    // NOTE: a sum of per-tag hashes does not depend on the order the tags were recorded in.
    private static int TagHash(string key, string value) => HashCode.Combine(key, value);

    /// <summary>Looks a series up by the tags of a measurement without allocating (for string tag values).</summary>
    public sealed class Comparer : IEqualityComparer<TagSet>, IAlternateEqualityComparer<ReadOnlySpan<KeyValuePair<string, object?>>, TagSet>
    {
        public static readonly Comparer Instance = new();

        public bool Equals(TagSet? x, TagSet? y)
        {
            if (ReferenceEquals(x, y)) return true;
            if (x is null || y is null || x._hash != y._hash || x.Tags.Length != y.Tags.Length) return false;
            for (var i = 0; i < x.Tags.Length; i++)
            {
                if (x.Tags[i].Key != y.Tags[i].Key || x.Tags[i].Value != y.Tags[i].Value) return false;
            }
            return true;
        }

        public int GetHashCode(TagSet obj) => obj._hash;

        public bool Equals(ReadOnlySpan<KeyValuePair<string, object?>> alternate, TagSet other)
        {
            if (alternate.Length != other.Tags.Length) return false;
            foreach (var tag in alternate)
            {
                var found = false;
                foreach (var (key, value) in other.Tags)
                {
                    if (key != tag.Key) continue;
                    found = tag.Value is string s ? s == value : Format(tag.Value) == value;
                    break;
                }
                if (!found) return false;
            }
            return true;
        }

        public int GetHashCode(ReadOnlySpan<KeyValuePair<string, object?>> alternate)
        {
            var hash = 0;
            foreach (var tag in alternate) hash += TagHash(tag.Key, tag.Value as string ?? Format(tag.Value));
            return hash;
        }

        public TagSet Create(ReadOnlySpan<KeyValuePair<string, object?>> alternate) => TagSet.Create(alternate);
    }
}
