using System.Globalization;

namespace TokenGateway.Tests.Telemetry;

/// <summary>Reads samples out of a Prometheus text exposition (enough of the format for the tests).</summary>
internal static class MetricsText
{
    /// <summary>The samples named <paramref name="name"/> whose labels are exactly <paramref name="labels"/>.</summary>
    public static double? Value(string text, string name, params (string Name, string Value)[] labels)
    {
        var matches = Samples(text).Where(s => s.Name == name && s.Labels.Count == labels.Length
            && labels.All(l => s.Labels.TryGetValue(l.Name, out var v) && v == l.Value)).ToList();
        Assert.True(matches.Count <= 1, $"{matches.Count} samples of {name} match");
        return matches.Count == 0 ? null : matches[0].Value;
    }

    public static IEnumerable<(string Name, Dictionary<string, string> Labels, double Value)> Samples(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var space = line.LastIndexOf(' ');
            var series = line[..space];
            var value = line[(space + 1)..] switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                var v => double.Parse(v, CultureInfo.InvariantCulture),
            };
            var brace = series.IndexOf('{');
            if (brace < 0)
            {
                yield return (series, [], value);
                continue;
            }
            yield return (series[..brace], Labels(series[(brace + 1)..^1]), value);
        }
    }

    /// <summary>Parses <c>a="x",b="y\"z"</c>, undoing the format's escapes.</summary>
    private static Dictionary<string, string> Labels(string text)
    {
        var labels = new Dictionary<string, string>();
        var i = 0;
        while (i < text.Length)
        {
            var eq = text.IndexOf('=', i);
            var name = text[i..eq];
            var value = new System.Text.StringBuilder();
            var j = eq + 2;
            for (; text[j] != '"'; j++)
            {
                if (text[j] != '\\')
                {
                    value.Append(text[j]);
                    continue;
                }
                j++;
                value.Append(text[j] switch { 'n' => '\n', var c => c });
            }
            labels[name] = value.ToString();
            i = j + 2;
        }
        return labels;
    }
}
