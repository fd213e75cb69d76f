using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using TokenGateway.Admin;
using TokenGateway.Billing;
using TokenGateway.Configuration;
using TokenGateway.Pricing;
using TokenGateway.Projects;

namespace TokenGateway.BillingConsole.Pages;

/// <summary>
/// Balance (exact, and held by requests in flight), month spend against the limits, grants, "Add to credit balance"
/// (a grant for the platform admin, a funding request for a team admin), auto-recharge (by an amount or to a target
/// balance), usage limits, threshold alerts, and the projects' month spend against their limits.
/// </summary>
public sealed class OverviewModel : ConsolePageModel
{
    private BillingStore billing => Service<BillingStore>();
    private CreditRequests creditRequests => Service<CreditRequests>();
    private IOptions<GatewayOptions> options => Service<IOptions<GatewayOptions>>();
    private TimeProvider clock => Service<TimeProvider>();

    private static readonly Dictionary<string, string> Done = new(StringComparer.Ordinal)
    {
        ["granted"] = "Credit added to the balance.",
        ["requested"] = "Credit requested: it is added once your company's billing system approves it.",
        ["auto_recharge"] = "Auto-recharge settings saved.",
        ["limits"] = "Usage limits saved.",
        ["alerts"] = "Alerts saved.",
    };

    internal GatewayOptions Options => options.Value;
    internal IReadOnlyList<CreditRequest> Requests { get; private set; } = [];
    internal IReadOnlyList<ProjectSnapshot> Projects { get; private set; } = [];
    public string? Error { get; private set; }
    public string? Notice { get; private set; }
    /// <summary>Makes a double-submitted grant form one grant (the admin API's Idempotency-Key).</summary>
    public string GrantNonce { get; } = Guid.NewGuid().ToString("N");
    public decimal MinimumTopUp => options.Value.Billing.MinimumTopUpUsd;

    public async Task OnGetAsync([FromQuery] string? done)
    {
        Notice = done is not null ? Done.GetValueOrDefault(done) : null;
        await LoadAsync();
    }

    private async Task LoadAsync()
    {
        ViewData["Section"] = "overview";
        Requests = await creditRequests.ListAsync(Account);
        Projects = await Service<ProjectStore>().ListAsync(Account, clock.GetUtcNow()) ?? [];
    }

    private async Task<IActionResult> Invalid(string error)
    {
        Error = error;
        Response.StatusCode = StatusCodes.Status400BadRequest;
        await LoadAsync();
        return Page();
    }

    private IActionResult Saved(string what) => Redirect(ConsoleUrls.Overview(Account) + "?done=" + what);

    private long MinimumMicros => (long)(MinimumTopUp * 1_000_000m);

    public async Task<IActionResult> OnPostAddCreditAsync([FromForm] string? amount, [FromForm] string? source, [FromForm] string? expires, [FromForm] string? nonce)
    {
        if (!IsPlatform) return StatusCode(StatusCodes.Status403Forbidden);
        if (ConsoleFormat.ParseUsd(amount) is not long micros || micros < MinimumMicros || micros <= 0)
            return await Invalid($"Enter an amount of at least ${MinimumTopUp.ToString(CultureInfo.InvariantCulture)} (at most 6 decimals).");
        if (source is not ("manual" or "promo")) return await Invalid("Choose manual or promo.");
        var (expiresAt, badExpiry) = ConsoleFormat.ParseExpiry(expires, clock.GetUtcNow());
        if (badExpiry is not null) return await Invalid(badExpiry);
        var idempotency = nonce is { Length: 32 } && nonce.All(char.IsAsciiHexDigitLower) ? "console-" + nonce : null;
        var result = await billing.AddGrantAsync(Account, micros, source, expiresAt, idempotency);
        if (result.Status == GrantStatus.IdempotencyKeyReused) return await Invalid("This form was already submitted with another amount: reload the page to add more.");
        return Saved("granted");
    }

    public async Task<IActionResult> OnPostRequestCreditAsync([FromForm] string? amount)
    {
        if (ConsoleFormat.ParseUsd(amount) is not long micros || micros < MinimumMicros || micros <= 0)
            return await Invalid($"Enter an amount of at least ${MinimumTopUp.ToString(CultureInfo.InvariantCulture)} (at most 6 decimals).");
        await creditRequests.RequestAsync(Account, micros, Admin.AdminKeyId ?? "platform");
        return Saved("requested");
    }

    /// <param name="recharge">amount (add a fixed amount) or target (lift the balance to a target).</param>
    public async Task<IActionResult> OnPostAutoRechargeAsync([FromForm] bool enabled, [FromForm] string? threshold, [FromForm] string? recharge,
        [FromForm] string? amount, [FromForm] string? target, [FromForm(Name = "monthly_limit")] string? monthlyLimit, [FromForm] string? mode)
    {
        // NOTE: only the platform admin may choose internal mode (granted without approval): a team admin's recharges
        // always go through the funding webhook, or a team could fund itself.
        mode = IsPlatform ? mode ?? "webhook" : "webhook";
        if (mode is not ("webhook" or "internal")) return await Invalid("Choose webhook or internal.");
        if (recharge is not ("amount" or "target" or null)) return await Invalid("Choose to recharge by an amount or to a target balance.");
        // NOTE: the form becomes the admin API's body, so the console accepts exactly what PUT /admin/accounts/{id}/auto-recharge
        // accepts; with a target the amount is left out (the minimum top-up). Text that is not an amount becomes -1, which
        // every amount rule refuses (ParseUsd never returns a negative).
        static decimal Usd(string? text) => ConsoleFormat.ParseUsd(text) is long micros ? Money.ToUsd(micros) : -1;
        var byTarget = recharge == "target";
        var body = new AutoRechargeBody(enabled, Usd(threshold), byTarget ? null : Usd(amount), Usd(monthlyLimit), mode, byTarget ? Usd(target) : null);
        var (settings, refusal) = AutoRechargeRules.Validate(body, options.Value.Billing);
        if (settings is null)
        {
            return await Invalid(refusal!.Rule switch
            {
                AutoRechargeRules.Rule.Threshold => "Enter the threshold in USD.",
                AutoRechargeRules.Rule.TargetBalance => "The target balance must be an amount in USD above the threshold.",
                AutoRechargeRules.Rule.Amount => $"The recharge amount must be at least the minimum top-up of ${MinimumTopUp.ToString(CultureInfo.InvariantCulture)}.",
                AutoRechargeRules.Rule.MonthlyLimit => $"The monthly recharge limit must be at least the recharge amount ({ConsoleFormat.Usd(byTarget ? MinimumMicros : ConsoleFormat.ParseUsd(amount) ?? 0)}).",
                AutoRechargeRules.Rule.FundingUrl => "Webhook mode needs the gateway setting Billing:Webhooks:FundingUrl.",
                _ => refusal.Message,
            });
        }
        await billing.SetAutoRechargeAsync(Account, settings);
        return Saved("auto_recharge");
    }

    /// <param name="thresholds">Percentages, comma-separated ("50, 80, 100"); empty for none.</param>
    /// <param name="lowBalance">USD; empty for none.</param>
    public async Task<IActionResult> OnPostAlertsAsync([FromForm] string? thresholds, [FromForm(Name = "low_balance")] string? lowBalance)
    {
        var parts = (thresholds ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var numbers = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i].TrimEnd('%').TrimEnd(), NumberStyles.None, CultureInfo.InvariantCulture, out numbers[i])) numbers[i] = -1;
        }
        // NOTE: the admin API's validation, so the console accepts exactly what PUT /admin/accounts/{id}/alerts accepts.
        if (AlertThresholds.Validate(numbers) is not { } percentages)
            return await Invalid("Alert thresholds are at most 10 whole percentages from 1 to 1000, comma-separated (e.g. 50, 80, 100); empty for none.");
        long? low = null;
        if (!string.IsNullOrWhiteSpace(lowBalance) && (low = ConsoleFormat.ParseUsd(lowBalance)) is null or < 0)
            return await Invalid("The low-balance alert is an amount in USD, or empty for none.");
        await billing.SetAlertsAsync(Account, new AlertSettings(percentages, low));
        return Saved("alerts");
    }

    public async Task<IActionResult> OnPostLimitsAsync([FromForm] string? hard, [FromForm] string? soft)
    {
        long? Parse(string? v, out bool bad)
        {
            bad = false;
            if (string.IsNullOrWhiteSpace(v)) return null;
            var micros = ConsoleFormat.ParseUsd(v);
            bad = micros is null or < 0;
            return micros;
        }
        var h = Parse(hard, out var badHard);
        var s = Parse(soft, out var badSoft);
        if (badHard || badSoft) return await Invalid("Limits are amounts in USD, or empty for none.");
        if (s > h) return await Invalid("The soft limit must not be above the hard limit.");
        await billing.SetLimitsAsync(Account, h, s);
        return Saved("limits");
    }
}
