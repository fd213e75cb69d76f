using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using TokenGateway.Billing;
using TokenGateway.Metering;

namespace TokenGateway.Configuration;

/// <summary>Fails start-up with messages that name the setting to fix.</summary>
internal sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions o)
    {
        var errors = new List<string>();
        void Check(bool ok, string setting, string problem)
        {
            if (!ok) errors.Add($"{GatewayOptions.Section}:{setting} {problem}");
        }

        Check(Uri.TryCreate(o.Upstream.BaseUrl, UriKind.Absolute, out var upstream) && upstream.Scheme is "http" or "https",
            "Upstream:BaseUrl", "must be an absolute http(s) URL.");
        Check(o.Upstream.TimeoutSeconds > 0, "Upstream:TimeoutSeconds", "must be positive.");
        if (!string.IsNullOrEmpty(o.Upstream.CaCertificateFile) && CertificateProblem(o.Upstream.CaCertificateFile) is { } problem)
            Check(false, "Upstream:CaCertificateFile", $"'{o.Upstream.CaCertificateFile}' must be a readable PEM certificate file: {problem}");
        Check(!string.IsNullOrWhiteSpace(o.Redis.Configuration), "Redis:Configuration", "is required (e.g. 127.0.0.1:6379).");
        // NOTE: at most the client's own default (5 s), which a configuration string may shorten, never lengthen.
        Check(o.Redis.TimeoutMilliseconds is >= 100 and <= 5_000, "Redis:TimeoutMilliseconds", "must be between 100 and 5000.");
        if (!string.IsNullOrWhiteSpace(o.Redis.Configuration) && RedisConfigurationProblem(o.Redis.Configuration) is { } redisProblem)
            Check(false, "Redis:Configuration", $"is not a StackExchange.Redis configuration string: {redisProblem}");
        Check(!string.IsNullOrWhiteSpace(o.Pricing.File), "Pricing:File", "is required.");
        Check(o.Billing.OverdraftUsd >= 0, "Billing:OverdraftUsd", "must be zero or more.");
        Check(o.Billing.MinimumTopUpUsd >= 0, "Billing:MinimumTopUpUsd", "must be zero or more.");
        Check(o.Billing.GrantExpiryDays > 0, "Billing:GrantExpiryDays", "must be positive.");
        Check(o.Billing.Url.Length == 0 || Uri.TryCreate(o.Billing.Url, UriKind.Absolute, out _), "Billing:Url", "must be an absolute URL.");
        Check(o.Billing.SweepSeconds > 0, "Billing:SweepSeconds", "must be positive.");
        var hooks = o.Billing.Webhooks;
        static bool HttpUrl(string url) => Uri.TryCreate(url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https";
        Check(hooks.Url.Length == 0 || HttpUrl(hooks.Url), "Billing:Webhooks:Url", "must be an absolute http(s) URL.");
        Check(hooks.FundingUrl.Length == 0 || HttpUrl(hooks.FundingUrl), "Billing:Webhooks:FundingUrl", "must be an absolute http(s) URL.");
        Check(hooks.Url.Length + hooks.FundingUrl.Length == 0 || (hooks.Secret.Length >= 16 && !hooks.Secret.Contains("REPLACE_ME", StringComparison.OrdinalIgnoreCase)),
            "Billing:Webhooks:Secret", "must be at least 16 characters and not a placeholder when a webhook URL is set.");
        Check(hooks.MaxAttempts > 0, "Billing:Webhooks:MaxAttempts", "must be positive.");
        Check(hooks.RetryBaseMilliseconds > 0, "Billing:Webhooks:RetryBaseMilliseconds", "must be positive.");
        Check(hooks.TimeoutSeconds > 0, "Billing:Webhooks:TimeoutSeconds", "must be positive.");
        var retention = o.Billing.Retention;
        Check(retention.LedgerDays > 0, "Billing:Retention:LedgerDays", "must be positive (days of ledger history kept).");
        Check(retention.UsageDays > 0, "Billing:Retention:UsageDays", "must be positive (days of usage reports kept).");
        // NOTE: the marker must outlive every replay of a settle (a retry of one whose answer was lost); the hold's lease
        // is the floor, see settle.lua.
        Check(retention.SettleMarkerSeconds is null || retention.SettleMarkerSeconds >= o.Metering.HoldTtlSeconds, "Billing:Retention:SettleMarkerSeconds",
            $"must be at least Metering:HoldTtlSeconds ({o.Metering.HoldTtlSeconds}), or empty for twice that.");
        Check(o.Metering.HeartbeatSeconds > 0 && o.Metering.HeartbeatSeconds * 3 <= o.Metering.HoldTtlSeconds, "Metering:HeartbeatSeconds",
            $"must be positive and at most a third of Metering:HoldTtlSeconds ({o.Metering.HoldTtlSeconds}), so that a live request's lease never ends.");
        Check(o.Billing.SettleJournal.ReplayMilliseconds > 0, "Billing:SettleJournal:ReplayMilliseconds", "must be positive.");
        if (SettleJournal.DirectoryProblem(o.Billing.SettleJournal.Directory) is { } journalProblem)
            Check(false, "Billing:SettleJournal:Directory", journalProblem);
        Check(o.Metering.MaxRequestBodyBytes > 0, "Metering:MaxRequestBodyBytes", "must be positive.");
        Check(o.Metering.HoldTtlSeconds > 0, "Metering:HoldTtlSeconds", "must be positive.");
        Check(o.Metering.MinimumOutputTokens > 0, "Metering:MinimumOutputTokens", "must be positive.");
        Check(o.Metering.MaxHoldShare is > 0 and <= 1, "Metering:MaxHoldShare", "must be a fraction above 0 and at most 1 (e.g. 0.5).");
        Check(o.Metering.DefaultMaxOutputTokens > 0, "Metering:DefaultMaxOutputTokens", "must be positive.");
        Check(o.Metering.MaxToolCallsHeld >= 0, "Metering:MaxToolCallsHeld", "must be zero or more.");
        Check(string.IsNullOrEmpty(o.Admin.Token) || (o.Admin.Token.Length >= 16 && !o.Admin.Token.Contains("REPLACE_ME", StringComparison.OrdinalIgnoreCase)),
            "Admin:Token", "must be at least 16 characters and not a placeholder (leave it empty to turn the admin API off).");
        Check(o.Keys.RotationGraceSeconds >= 0, "Keys:RotationGraceSeconds", "must be zero or more.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static string? CertificateProblem(string file)
    {
        try
        {
            foreach (var certificate in UpstreamCertificateTrust.Load(file)) certificate.Dispose();
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            return e.Message;
        }
    }

    /// <summary>Checked here so that a bad string stops the start with its setting named, not every later Redis call.</summary>
    private static string? RedisConfigurationProblem(string configuration)
    {
        try
        {
            _ = StackExchange.Redis.ConfigurationOptions.Parse(configuration);
            return null;
        }
        catch (ArgumentException e)
        {
            return e.Message;
        }
    }
}
