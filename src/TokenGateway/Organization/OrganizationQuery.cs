using System.Globalization;
using System.Text;
using Microsoft.Extensions.Primitives;
using TokenGateway.Billing;
using TokenGateway.Errors;

namespace TokenGateway.Organization;

/// <summary>A bucket width of OpenAI's Usage and Costs APIs, with its default and largest number of buckets a page.</summary>
internal sealed record BucketWidth(string Name, TimeSpan Span, UsagePeriod Period, int DefaultLimit, int MaxLimit)
{
    public static readonly BucketWidth Minute = new("1m", TimeSpan.FromMinutes(1), UsagePeriod.Minute, 60, 1440);
    public static readonly BucketWidth Hour = new("1h", TimeSpan.FromHours(1), UsagePeriod.Hour, 24, 168);
    public static readonly BucketWidth Day = new("1d", TimeSpan.FromDays(1), UsagePeriod.Day, 7, 31);

    /// <summary>The Costs API has day buckets only, and pages of up to 180 of them.</summary>
    public static readonly BucketWidth CostDay = Day with { MaxLimit = 180 };
}

/// <param name="Starts">The buckets of this page (UTC starts).</param>
/// <param name="NextPage">The cursor of the next page, or null when this page reaches <c>end_time</c>.</param>
internal sealed record OrganizationQuery(
    BucketWidth Width, IReadOnlyList<DateTimeOffset> Starts, string? NextPage,
    IReadOnlySet<string>? ProjectIds, IReadOnlySet<string>? ApiKeyIds, IReadOnlySet<string>? Models, IReadOnlySet<string> GroupBy)
{
    private const int MaxFilterValues = 100;

    /// <summary>Year 3000: any later time would let a page's bucket arithmetic pass DateTimeOffset's range.</summary>
    private const long MaxUnixSeconds = 32_503_680_000;

    /// <summary>
    /// OpenAI's parameters: <c>start_time</c> (Unix seconds, required, inclusive), <c>end_time</c> (exclusive, default
    /// now), <c>bucket_width</c>, <c>limit</c> (buckets a page), <c>page</c> (the previous page's <c>next_page</c>), array
    /// filters and <c>group_by</c> (repeated, with or without <c>[]</c>, or comma-separated). Buckets are snapped to the
    /// start of their minute, hour or day (UTC).
    /// </summary>
    public static (OrganizationQuery? Query, IResult? Error) Parse(IQueryCollection q, DateTimeOffset now, IReadOnlyList<BucketWidth> widths, IReadOnlyList<string> groupFields, bool filtersByModel)
    {
        if (!TryUnix(q["start_time"], out var start) || start is null) return Bad("'start_time' is required: Unix seconds.", "start_time");
        if (!TryUnix(q["end_time"], out var end)) return Bad("'end_time' must be Unix seconds.", "end_time");
        var widthName = q["bucket_width"].ToString();
        var width = widthName.Length == 0 ? widths[^1] : widths.FirstOrDefault(w => w.Name == widthName);
        if (width is null) return Bad($"'bucket_width' must be {string.Join(" or ", widths.Select(w => w.Name))}.", "bucket_width");
        var limit = width.DefaultLimit;
        if (q["limit"].ToString() is { Length: > 0 } l
            && (!int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > width.MaxLimit))
            return Bad($"'limit' must be an integer from 1 to {width.MaxLimit} for bucket_width {width.Name}.", "limit");
        var until = end ?? now;
        if (until <= start) return Bad("'end_time' must be after 'start_time'.", "end_time");
        var first = Snap(start.Value, width);
        if (q["page"].ToString() is { Length: > 0 } page)
        {
            if (DecodePage(page) is not { } resume || resume < first || resume >= until || Snap(resume, width) != resume)
                return Bad("'page' is not a cursor this API returned for these parameters.", "page");
            first = resume;
        }
        var starts = new List<DateTimeOffset>();
        for (var s = first; s < until && starts.Count < limit; s += width.Span) starts.Add(s);
        var next = starts[^1] + width.Span;
        var groupBy = Values(q, "group_by");
        if (groupBy?.FirstOrDefault(g => !groupFields.Contains(g)) is { } unknown)
            return Bad($"'group_by' may hold {string.Join(", ", groupFields)}; not '{OpenAIError.Quote(unknown)}'.", "group_by");
        var projects = Values(q, "project_ids");
        var keys = Values(q, "api_key_ids");
        var models = filtersByModel ? Values(q, "models") : null;
        if (new[] { projects, keys, models, groupBy }.Any(v => v?.Count > MaxFilterValues))
            return Bad($"A list parameter holds at most {MaxFilterValues} values.", null);
        return (new OrganizationQuery(width, starts, next < until ? EncodePage(next) : null, projects, keys, models, groupBy ?? new HashSet<string>()), null);
    }

    public static DateTimeOffset Snap(DateTimeOffset t, BucketWidth width) => new(t.UtcTicks - t.UtcTicks % width.Span.Ticks, TimeSpan.Zero);

    private static bool TryUnix(StringValues value, out DateTimeOffset? time)
    {
        time = null;
        if (value.Count == 0 || value.ToString().Length == 0) return true;
        if (!long.TryParse(value.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > MaxUnixSeconds) return false;
        time = DateTimeOffset.FromUnixTimeSeconds(seconds);
        return true;
    }

    /// <summary>A list parameter: <c>name=a&amp;name=b</c>, <c>name[]=a</c>, or <c>name=a,b</c>; null when absent.</summary>
    private static HashSet<string>? Values(IQueryCollection q, string name)
    {
        var values = q[name].Concat(q[name + "[]"]).SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        return values.Count == 0 ? null : new HashSet<string>(values, StringComparer.Ordinal);
    }

    /// <summary>The cursor is the next bucket's start; opaque to clients, as OpenAI's is.</summary>
    private static string EncodePage(DateTimeOffset next) =>
        "page_" + Convert.ToBase64String(Encoding.ASCII.GetBytes(next.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture))).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static DateTimeOffset? DecodePage(string page)
    {
        if (!page.StartsWith("page_", StringComparison.Ordinal) || page.Length > 40) return null;
        var b64 = page[5..].Replace('-', '+').Replace('_', '/');
        b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
        try
        {
            var text = Encoding.ASCII.GetString(Convert.FromBase64String(b64));
            return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s <= MaxUnixSeconds ? DateTimeOffset.FromUnixTimeSeconds(s) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static (OrganizationQuery?, IResult?) Bad(string message, string? param) =>
        (null, OpenAIError.Result(400, "invalid_request_error", "invalid_request", message, param));
}
