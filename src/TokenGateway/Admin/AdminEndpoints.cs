using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TokenGateway.Billing;
using TokenGateway.Configuration;
using TokenGateway.Errors;
using TokenGateway.Keys;
using TokenGateway.Organization;
using TokenGateway.Pricing;
using TokenGateway.Projects;
using TokenGateway.RateLimits;
using TokenGateway.Redis;

namespace TokenGateway.Admin;

/// <summary>The admin API (accounts, keys, credits, limits, auto-recharge, ledger, usage). Off (not mapped) when no admin token is configured.</summary>
internal static partial class AdminEndpoints
{
    // NOTE: \z, not $: .NET's $ also matches before a final newline, which let "nl\n" through. Lowercase, and no
    // dots, so "." and ".." (path segments a client or proxy collapses) can never be account ids.
    [GeneratedRegex(@"^[a-z0-9][a-z0-9_-]{0,63}\z")]
    internal static partial Regex AccountIdPattern();

    public static void MapAdminApi(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<IOptions<GatewayOptions>>().Value;
        if (string.IsNullOrEmpty(options.Admin.Token)) return;

        var admin = app.MapGroup("/admin").AddEndpointFilter(new AdminAuthFilter());
        admin.AddEndpointFilter(new BillingStoreFailureFilter());
        admin.AddEndpointFilter(new AdminBindingFailureFilter());

        admin.MapPost("/accounts", CreateAccount).WithMetadata(PlatformOnly.Instance);
        admin.MapGet("/accounts/{id}", GetAccount);
        admin.MapPost("/accounts/{id}/keys", CreateKey);
        admin.MapDelete("/keys/{keyId}", RevokeKey);
        admin.MapPost("/keys/{keyId}/rotate", RotateKey);
        admin.MapPost("/accounts/{id}/credits", AddCredits).WithMetadata(PlatformOnly.Instance);
        admin.MapTeamAdminRoutes();
        admin.MapPut("/accounts/{id}/limits", SetLimits);
        admin.MapPut("/accounts/{id}/auto-recharge", SetAutoRecharge);
        admin.MapGet("/accounts/{id}/ledger", GetLedger);
        admin.MapGet("/accounts/{id}/usage", GetUsage);
        admin.MapPut("/accounts/{id}/alerts", SetAlerts);
        admin.MapProjects();
        admin.MapRateLimits();
        admin.MapCsvExports();
        // NOTE: any other path under /admin, or a known path with another method, answers as OpenAI's "Invalid URL" does
        // (404 in its error shape) rather than an empty 404 or 405; behind the admin token, so it reveals no routes.
        admin.Map("/{**path}", () => Error(404, "not_found", "No admin route matches this method and path."));
        app.MapOrganizationApi();
    }

    private static IResult Json(object value, int status = 200) => Results.Json(value, AdminJson.Options, statusCode: status);

    private static IResult Error(int status, string code, string message, string? param = null) =>
        OpenAIError.Result(status, "invalid_request_error", code, message, param);

    private static IResult NotFound(string what) => Error(404, "not_found", $"No {what} with that id.");

    private static async Task<IResult> CreateAccount(HttpContext context, BillingStore billing)
    {
        var (body, invalid) = await AdminJson.ReadAsync<CreateAccountBody>(context);
        if (body is null) return invalid!;
        if (body.Id is null || !AccountIdPattern().IsMatch(body.Id))
            return Error(400, "invalid_request", "'id' is required: 1-64 characters of a-z 0-9 _ -, starting with a letter or digit.", "id");
        if (!await billing.CreateAccountAsync(body.Id, body.Name ?? body.Id))
            return Error(409, "account_exists", $"An account '{body.Id}' already exists.", "id");
        return Json((await AccountView(billing, body.Id))!, 201);
    }

    private static async Task<IResult> GetAccount(string id, BillingStore billing) =>
        AccountIdPattern().IsMatch(id) && await AccountView(billing, id) is { } view ? Json(view) : NotFound("account");

    private static async Task<object?> AccountView(BillingStore billing, string id)
    {
        if (await billing.ReadAccountAsync(id) is not { } a) return null;
        return new
        {
            a.Id,
            a.Name,
            BalanceUsd = Money.ToUsd(a.BalanceMicros),
            a.BalanceMicros,
            HeldUsd = Money.ToUsd(a.HeldMicros),
            a.HeldMicros,
            AvailableMicros = a.BalanceMicros + billing.OverdraftMicros - a.HeldMicros,
            MonthSpendUsd = Money.ToUsd(a.MonthSpendMicros),
            a.MonthSpendMicros,
            HardLimitUsd = a.HardLimitMicros is long h ? Money.ToUsd(h) : (decimal?)null,
            SoftLimitUsd = a.SoftLimitMicros is long s ? Money.ToUsd(s) : (decimal?)null,
            AutoRecharge = a.AutoRecharge is { } ar
                ? new
                {
                    ar.Enabled,
                    ThresholdUsd = Money.ToUsd(ar.ThresholdMicros),
                    AmountUsd = Money.ToUsd(ar.AmountMicros),
                    MonthlyLimitUsd = Money.ToUsd(ar.MonthlyLimitMicros),
                    ar.Mode,
                    TargetBalanceUsd = ar.TargetBalanceMicros is long t ? Money.ToUsd(t) : (decimal?)null,
                    MonthRechargedUsd = Money.ToUsd(a.MonthRechargedMicros),
                    MonthRechargedMicros = a.MonthRechargedMicros,
                }
                : null,
            Alerts = new
            {
                a.Alerts.ThresholdsPercent,
                LowBalanceUsd = a.Alerts.LowBalanceMicros is long low ? Money.ToUsd(low) : (decimal?)null,
            },
            Grants = a.Grants.Select(g => new
            {
                g.Id,
                AmountUsd = Money.ToUsd(g.AmountMicros),
                g.AmountMicros,
                RemainingUsd = Money.ToUsd(g.RemainingMicros),
                g.RemainingMicros,
                g.Source,
                g.CreatedAt,
                g.ExpiresAt,
            }),
        };
    }

    private static async Task<IResult> CreateKey(string id, HttpContext context, BillingStore billing, KeyStore keys, ProjectStore projects, TimeProvider clock)
    {
        var (body, invalid) = await AdminJson.ReadAsync<CreateKeyBody>(context);
        if (body is null) return invalid!;
        if (!AccountIdPattern().IsMatch(id) || await billing.ReadAccountAsync(id) is null) return NotFound("account");
        long? budget = null;
        if (body.MonthlyLimitUsd is decimal usd)
        {
            if (usd < 0 || Money.ToMicros(usd) is not long micros) return Error(400, "invalid_request", "'monthly_limit_usd' must be a non-negative amount.", "monthly_limit_usd");
            budget = micros;
        }
        if (body.Models is { } models && models.Any(m => string.IsNullOrWhiteSpace(m) || m.Contains(',')))
            return Error(400, "invalid_request", "'models' must be model names (a trailing * allows a prefix).", "models");
        if (body.ExpiresAt <= clock.GetUtcNow()) return Error(400, "invalid_request", "'expires_at' must be in the future.", "expires_at");
        var project = body.Project ?? ProjectStore.Default;
        if (!AccountIdPattern().IsMatch(project) || !await projects.IsActiveAsync(id, project))
            return Error(400, "invalid_request", "'project' must be the id of an active project of this account (default when absent).", "project");
        var (keyId, secret) = await keys.CreateAsync(id, body.Name ?? "", body.Models, budget, body.ExpiresAt, project);
        return Json(new { Id = keyId, Key = secret, AccountId = id, Project = project, body.Name, body.Models, body.MonthlyLimitUsd, body.ExpiresAt }, 201);
    }

    private static async Task<IResult> RevokeKey(string keyId, KeyStore keys) =>
        await keys.RevokeAsync(keyId) ? Json(new { Id = keyId, Revoked = true }) : NotFound("key");

    private static async Task<IResult> RotateKey(string keyId, KeyStore keys, IOptions<GatewayOptions> options) =>
        await keys.RotateAsync(keyId) is string secret
            ? Json(new { Id = keyId, Key = secret, PreviousKeyValidForSeconds = options.Value.Keys.RotationGraceSeconds })
            : NotFound("key");

    private static async Task<IResult> AddCredits(string id, HttpContext context, BillingStore billing, TimeProvider clock, IOptions<GatewayOptions> options)
    {
        var (body, invalid) = await AdminJson.ReadAsync<AddCreditsBody>(context);
        if (body is null) return invalid!;
        var billingOptions = options.Value.Billing;
        if (body.AmountUsd is not decimal usd || usd <= 0 || Money.ToMicros(usd) is not long micros)
            return Error(400, "invalid_request", "'amount_usd' must be a positive amount with at most 6 decimals.", "amount_usd");
        if (usd < billingOptions.MinimumTopUpUsd)
            return Error(400, "invalid_request", $"The minimum top-up is ${billingOptions.MinimumTopUpUsd.ToString(CultureInfo.InvariantCulture)}.", "amount_usd");
        var source = body.Source ?? "manual";
        if (source is not ("manual" or "promo" or "auto_recharge"))
            return Error(400, "invalid_request", "'source' must be manual, promo or auto_recharge.", "source");
        if (body.ExpiresAt <= clock.GetUtcNow()) return Error(400, "invalid_request", "'expires_at' must be in the future.", "expires_at");
        var idempotencyKey = context.Request.Headers["Idempotency-Key"].ToString();
        if (idempotencyKey.Length > 200) return Error(400, "invalid_request", "Idempotency-Key is longer than 200 characters.");
        if (!AccountIdPattern().IsMatch(id)) return NotFound("account");
        var result = await billing.AddGrantAsync(id, micros, source, body.ExpiresAt, idempotencyKey.Length > 0 ? idempotencyKey : null);
        if (result.Status == GrantStatus.NoAccount) return NotFound("account");
        if (result.Status == GrantStatus.IdempotencyKeyReused)
            return Error(422, "idempotency_key_reused",
                "This Idempotency-Key was already used with a different request (amount, expiry or source). Use a new key for a new top-up.");
        if (result.Status == GrantStatus.Replayed) context.Response.Headers["Idempotent-Replayed"] = "true";
        return Json(new { GrantId = result.GrantId, BalanceUsd = Money.ToUsd(result.BalanceMicros), result.BalanceMicros, Replayed = result.Status == GrantStatus.Replayed }, 201);
    }

    private static async Task<IResult> SetLimits(string id, HttpContext context, BillingStore billing)
    {
        var (body, invalid) = await AdminJson.ReadAsync<LimitsBody>(context);
        if (body is null) return invalid!;
        var (hard, soft, refused) = LimitsRules.Validate(body);
        if (refused is not null) return refused;
        if (!AccountIdPattern().IsMatch(id) || !await billing.SetLimitsAsync(id, hard, soft)) return NotFound("account");
        return Json(await AccountView(billing, id) ?? new { });
    }

    private static async Task<IResult> SetAutoRecharge(string id, HttpContext context, BillingStore billing, IOptions<GatewayOptions> options)
    {
        var (body, invalid) = await AdminJson.ReadAsync<AutoRechargeBody>(context);
        if (body is null) return invalid!;
        var (settings, refusal) = AutoRechargeRules.Validate(body, options.Value.Billing);
        if (settings is null) return refusal!.ToResult();
        // NOTE: internal mode grants without approval: a team admin choosing it could fund its own team. Checked after
        // the rules: an invalid body is a 400 whoever sends it.
        if (settings.Mode == "internal" && AdminPrincipal.Of(context) is { IsPlatform: false }) return AdminAuthFilter.Forbidden;
        if (!AccountIdPattern().IsMatch(id) || !await billing.SetAutoRechargeAsync(id, settings))
            return NotFound("account");
        return Json(await AccountView(billing, id) ?? new { });
    }

    /// <summary>Threshold alerts (percentages of the monthly hard limit, of the soft limit without one) and the low-balance alert.</summary>
    private static async Task<IResult> SetAlerts(string id, HttpContext context, BillingStore billing)
    {
        var (body, invalid) = await AdminJson.ReadAsync<AlertsBody>(context);
        if (body is null) return invalid!;
        if (AlertThresholds.Validate(body.ThresholdsPercent) is not { } percentages) return AlertThresholds.Invalid;
        long? low = null;
        if (body.LowBalanceUsd is decimal usd && (usd < 0 || (low = Money.ToMicros(usd)) is null))
            return Error(400, "invalid_request", "'low_balance_usd' must be a non-negative amount or null.", "low_balance_usd");
        if (!AccountIdPattern().IsMatch(id) || !await billing.SetAlertsAsync(id, new AlertSettings(percentages, low))) return NotFound("account");
        return Json(await AccountView(billing, id) ?? new { });
    }

    private static async Task<IResult> GetUsage(string id, string? from, string? to, string? group_by, BillingStore billing, UsageReport usage, TimeProvider clock)
    {
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var groupBy = group_by ?? "day";
        if (groupBy is not ("day" or "model" or "key" or "project")) return Error(400, "invalid_request", "'group_by' must be day, model, key or project.", "group_by");
        DateOnly? Parse(string? value) => DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ? d : null;
        var start = from is null ? new DateOnly(today.Year, today.Month, 1) : Parse(from);
        var end = to is null ? today : Parse(to);
        if (start is null) return Error(400, "invalid_request", "'from' must be a date (yyyy-MM-dd).", "from");
        if (end is null) return Error(400, "invalid_request", "'to' must be a date (yyyy-MM-dd).", "to");
        if (end < start || end.Value.DayNumber - start.Value.DayNumber >= UsageReport.MaxDays)
            return Error(400, "invalid_request", $"'to' must be on or after 'from', at most {UsageReport.MaxDays - 1} days later.", "to");
        if (!AccountIdPattern().IsMatch(id) || await billing.ReadAccountAsync(id) is null) return NotFound("account");
        var rows = await usage.ReadAsync(id, start.Value, end.Value, groupBy);
        var groupField = groupBy switch { "key" => "key_id", "project" => "project_id", _ => groupBy };
        return Json(new
        {
            Object = "list",
            GroupBy = groupBy,
            From = start.Value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            To = end.Value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            Data = rows.Select(r =>
            {
                var row = new Dictionary<string, object> { [groupField] = r.Group, ["requests"] = r.Requests };
                for (var i = 0; i < r.Metrics.Length; i++) row[BilledDimensions.ReportFields[i]] = r.Metrics[i];
                row["cost_usd"] = Money.ToUsd(r.CostMicros);
                row["cost_micros"] = r.CostMicros;
                return row;
            }),
        });
    }

    private static async Task<IResult> GetLedger(string id, string? limit, string? cursor, BillingStore billing)
    {
        if (!AdminQuery.TryParseLimit(limit, 100, 1000, out var take)) return Error(400, "invalid_request", "'limit' must be an integer from 1 to 1000.", "limit");
        if (cursor is not null && !AdminQuery.IsLedgerCursor(cursor)) return Error(400, "invalid_request", "'cursor' is not a cursor this API returned.", "cursor");
        if (!AccountIdPattern().IsMatch(id) || await billing.ReadAccountAsync(id) is null) return NotFound("account");
        var page = await billing.ReadLedgerAsync(id, take + 1, cursor);
        var data = page.Take(take).Select(e =>
        {
            var amount = long.Parse(e.Fields["amount"], CultureInfo.InvariantCulture);
            var entry = new Dictionary<string, object?>
            {
                ["id"] = e.Id,
                ["type"] = e.Fields["type"],
                ["amount_usd"] = Money.ToUsd(amount),
                ["amount_micros"] = amount,
                ["balance_micros"] = long.Parse(e.Fields["balance"], CultureInfo.InvariantCulture),
                ["created_at"] = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(e.Fields["ts"], CultureInfo.InvariantCulture)),
            };
            foreach (var (name, value) in e.Fields)
            {
                if (name is "type" or "amount" or "balance" or "ts") continue;
                // NOTE: token counts and amounts are numbers; ids and names stay strings; line items as OpenAI's Costs API shows them.
                entry[name] = name == "line_items"
                    ? BilledDimensions.DecodeLines(value).Select(l => new { line_item = l.LineItem, quantity = l.Quantity, amount_usd = l.AmountUsd }).ToList()
                    : name.EndsWith("_tokens", StringComparison.Ordinal) || name.EndsWith("_calls", StringComparison.Ordinal) || name == "covered_debt"
                    ? long.Parse(value, CultureInfo.InvariantCulture) : value;
            }
            return entry;
        }).ToList();
        var hasMore = page.Count > take;
        return Json(new { Object = "list", Data = data, HasMore = hasMore, NextCursor = hasMore ? data[^1]["id"] : null });
    }
}
