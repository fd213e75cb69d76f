using TokenGateway.Admin;
using TokenGateway.Billing;
using TokenGateway.Pricing;

namespace TokenGateway.Organization;

/// <summary>
/// OpenAI's Usage API (<c>/v1/organization/usage/completions</c>, <c>/embeddings</c>) and Costs API
/// (<c>/v1/organization/costs</c>) over an account's usage counters (minute, hour and day hashes the settle script
/// writes; no ledger scan): same parameters, defaults, maxima and shapes, so their clients work unchanged. Mapped only
/// with the admin API (they need its token).
/// </summary>
internal static class OrganizationEndpoints
{
    private static readonly BucketWidth[] UsageWidths = [BucketWidth.Minute, BucketWidth.Hour, BucketWidth.Day];
    private static readonly string[] UsageGroups = ["project_id", "user_id", "api_key_id", "model", "batch"];
    private static readonly string[] CostGroups = ["project_id", "line_item", "api_key_id"];

    public static void MapOrganizationApi(this IEndpointRouteBuilder app)
    {
        var organization = app.MapGroup("/v1/organization")
            .AddEndpointFilter(new BillingStoreFailureFilter())
            .AddEndpointFilter(new OrganizationAccess());
        organization.MapGet("/usage/completions", (HttpContext c, UsageReport usage, PricingCatalog pricing, TimeProvider clock) => UsageAsync(c, usage, pricing, clock, embeddings: false));
        organization.MapGet("/usage/embeddings", (HttpContext c, UsageReport usage, PricingCatalog pricing, TimeProvider clock) => UsageAsync(c, usage, pricing, clock, embeddings: true));
        organization.MapGet("/costs", CostsAsync);
    }

    /// <summary>One result's group: the values of the grouped fields (null for the others, as OpenAI shows them).</summary>
    private readonly record struct Group(string? ProjectId, string? ApiKeyId, string? Model, string? LineItem);

    private static bool Passes(OrganizationQuery q, UsageCell c) =>
        (q.ProjectIds is null || q.ProjectIds.Contains(c.ProjectId))
        && (q.ApiKeyIds is null || q.ApiKeyIds.Contains(c.KeyId))
        && (q.Models is null || q.Models.Contains(c.Model));

    private static Group GroupOf(OrganizationQuery q, UsageCell c, string? lineItem = null) => new(
        q.GroupBy.Contains("project_id") ? c.ProjectId : null,
        q.GroupBy.Contains("api_key_id") ? c.KeyId : null,
        q.GroupBy.Contains("model") ? c.Model : null,
        lineItem);

    private static async Task<IResult> UsageAsync(HttpContext context, UsageReport usage, PricingCatalog pricing, TimeProvider clock, bool embeddings)
    {
        var (query, error) = OrganizationQuery.Parse(context.Request.Query, clock.GetUtcNow(), UsageWidths, UsageGroups, filtersByModel: true);
        if (query is null) return error!;
        var cells = await usage.ReadCellsAsync(OrganizationAccess.AccountOf(context), query.Width.Period, query.Starts);
        var table = pricing.Current;
        var buckets = query.Starts.Select((start, i) =>
        {
            var sums = new Dictionary<Group, long[]>();
            foreach (var cell in cells[i])
            {
                // NOTE: the model's kind decides the endpoint: an embedding model's usage is /embeddings', any other /completions'.
                if (!Passes(query, cell) || (table.Find(cell.Model)?.Price.IsEmbedding == true) != embeddings) continue;
                var slot = Array.IndexOf(UsageMetrics, cell.Metric);
                if (slot < 0) continue;
                var group = GroupOf(query, cell);
                if (!sums.TryGetValue(group, out var s)) sums[group] = s = new long[UsageMetrics.Length];
                s[slot] += cell.Value;
            }
            return Bucket(start, query.Width, sums.OrderBy(g => g.Key.ToString(), StringComparer.Ordinal).Select(g => UsageResult(query, g.Key, g.Value, embeddings)));
        });
        return Page(buckets, query);
    }

    /// <summary>The counters the Usage API shows, in <see cref="UsageResult"/>'s order.</summary>
    private static readonly string[] UsageMetrics = ["requests", "input", "cached", "output", "audio_input", "audio_output"];

    private static Dictionary<string, object?> UsageResult(OrganizationQuery q, Group g, long[] s, bool embeddings)
    {
        var result = new Dictionary<string, object?>
        {
            ["object"] = embeddings ? "organization.usage.embeddings.result" : "organization.usage.completions.result",
            ["input_tokens"] = s[1],
        };
        if (!embeddings)
        {
            result["input_cached_tokens"] = s[2];
            result["output_tokens"] = s[3];
            result["input_audio_tokens"] = s[4];
            result["output_audio_tokens"] = s[5];
        }
        result["num_model_requests"] = s[0];
        result["project_id"] = g.ProjectId;
        result["user_id"] = null;
        result["api_key_id"] = g.ApiKeyId;
        result["model"] = g.Model;
        // NOTE: the gateway meters no Batch API traffic: grouped by batch, everything is batch=false.
        if (!embeddings) result["batch"] = q.GroupBy.Contains("batch") ? false : null;
        return result;
    }

    private static async Task<IResult> CostsAsync(HttpContext context, UsageReport usage, TimeProvider clock)
    {
        var (query, error) = OrganizationQuery.Parse(context.Request.Query, clock.GetUtcNow(), [BucketWidth.CostDay], CostGroups, filtersByModel: false);
        if (query is null) return error!;
        var cells = await usage.ReadCellsAsync(OrganizationAccess.AccountOf(context), UsagePeriod.Day, query.Starts);
        var byLineItem = query.GroupBy.Contains("line_item");
        var buckets = query.Starts.Select((start, i) =>
        {
            // Amounts in pico-USD: a request's cost (micro-USD, rounded once) × 10^6, or its line items' exact pico-USD.
            var sums = new Dictionary<Group, decimal>();
            foreach (var cell in cells[i])
            {
                if (!Passes(query, cell)) continue;
                decimal picos;
                string? lineItem = null;
                if (byLineItem && cell.Metric.StartsWith("li:", StringComparison.Ordinal))
                {
                    picos = cell.Value;
                    // OpenAI names a line item "<model>, <dimension>" (e.g. "gpt-4o-2024-08-06, input").
                    lineItem = cell.Model + ", " + cell.Metric[3..];
                }
                else if (!byLineItem && cell.Metric == "cost")
                {
                    picos = cell.Value * Money.PicosPerMicro;
                }
                else
                {
                    continue;
                }
                var group = GroupOf(query, cell, lineItem) with { Model = null };
                sums[group] = sums.GetValueOrDefault(group) + picos;
            }
            return Bucket(start, query.Width, sums.OrderBy(g => g.Key.ToString(), StringComparer.Ordinal).Select(g => new Dictionary<string, object?>
            {
                ["object"] = "organization.costs.result",
                ["amount"] = new Dictionary<string, object> { ["value"] = g.Value / (Money.PicosPerMicro * Money.MicrosPerUsd), ["currency"] = "usd" },
                ["line_item"] = g.Key.LineItem,
                ["project_id"] = g.Key.ProjectId,
                ["api_key_id"] = g.Key.ApiKeyId,
            }));
        });
        return Page(buckets, query);
    }

    private static Dictionary<string, object?> Bucket(DateTimeOffset start, BucketWidth width, IEnumerable<Dictionary<string, object?>> results) => new()
    {
        ["object"] = "bucket",
        ["start_time"] = start.ToUnixTimeSeconds(),
        ["end_time"] = (start + width.Span).ToUnixTimeSeconds(),
        ["results"] = results.ToList(),
    };

    private static IResult Page(IEnumerable<Dictionary<string, object?>> buckets, OrganizationQuery query) =>
        Results.Json(new Dictionary<string, object?>
        {
            ["object"] = "page",
            ["data"] = buckets.ToList(),
            ["has_more"] = query.NextPage is not null,
            ["next_page"] = query.NextPage,
        }, AdminJson.Options);
}
