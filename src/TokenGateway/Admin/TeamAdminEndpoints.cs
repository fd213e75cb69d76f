using System.Globalization;
using Microsoft.Extensions.Options;
using TokenGateway.Billing;
using TokenGateway.Configuration;
using TokenGateway.Errors;
using TokenGateway.Pricing;

namespace TokenGateway.Admin;

/// <summary>
/// Team admin keys (created and revoked by the platform admin) and the credit requests a team admin sends to the
/// funding webhook instead of granting credit itself.
/// </summary>
internal static class TeamAdminEndpoints
{
    public static void MapTeamAdminRoutes(this RouteGroupBuilder admin)
    {
        admin.MapPost("/accounts/{id}/admin-keys", CreateAdminKey).WithMetadata(PlatformOnly.Instance);
        admin.MapDelete("/admin-keys/{adminKeyId}", RevokeAdminKey).WithMetadata(PlatformOnly.Instance);
        admin.MapPost("/accounts/{id}/credit-requests", RequestCredit);
        admin.MapGet("/accounts/{id}/credit-requests", ListCreditRequests);
    }

    private static IResult Json(object value, int status = 200) => Results.Json(value, AdminJson.Options, statusCode: status);

    private static IResult NoAccount => OpenAIError.Result(404, "invalid_request_error", "not_found", "No account with that id.");

    private static async Task<bool> AccountExistsAsync(string id, BillingStore billing) =>
        AdminEndpoints.AccountIdPattern().IsMatch(id) && await billing.ReadAccountAsync(id) is not null;

    private static async Task<IResult> CreateAdminKey(string id, HttpContext context, BillingStore billing, AdminKeyStore adminKeys)
    {
        var (body, invalid) = await AdminJson.ReadAsync<CreateAdminKeyBody>(context);
        if (body is null) return invalid!;
        if (!await AccountExistsAsync(id, billing)) return NoAccount;
        var (keyId, secret) = await adminKeys.CreateAsync(id, body.Name ?? "");
        return Json(new { Id = keyId, Key = secret, AccountId = id, body.Name }, 201);
    }

    private static async Task<IResult> RevokeAdminKey(string adminKeyId, AdminKeyStore adminKeys) =>
        await adminKeys.RevokeAsync(adminKeyId)
            ? Json(new { Id = adminKeyId, Revoked = true })
            : OpenAIError.Result(404, "invalid_request_error", "not_found", "No admin key with that id.");

    private static async Task<IResult> RequestCredit(string id, HttpContext context, BillingStore billing, CreditRequests requests, IOptions<GatewayOptions> options)
    {
        var (body, invalid) = await AdminJson.ReadAsync<CreditRequestBody>(context);
        if (body is null) return invalid!;
        var minimum = options.Value.Billing.MinimumTopUpUsd;
        if (body.AmountUsd is not decimal usd || usd < minimum || usd <= 0 || Money.ToMicros(usd) is not long micros)
            return OpenAIError.Result(400, "invalid_request_error", "invalid_request",
                $"'amount_usd' must be at least the minimum top-up of ${minimum.ToString(CultureInfo.InvariantCulture)}, with at most 6 decimals.", "amount_usd");
        if (!await AccountExistsAsync(id, billing)) return NoAccount;
        var principal = AdminPrincipal.Of(context)!;
        var requestId = await requests.RequestAsync(id, micros, principal.AdminKeyId ?? "platform");
        return requestId is null ? NoAccount : Json(new { Id = requestId, Status = "pending", AmountUsd = usd, AmountMicros = micros }, 202);
    }

    private static async Task<IResult> ListCreditRequests(string id, BillingStore billing, CreditRequests requests)
    {
        if (!await AccountExistsAsync(id, billing)) return NoAccount;
        var data = (await requests.ListAsync(id)).Select(r => new
        {
            r.Id, r.Status, AmountUsd = Money.ToUsd(r.AmountMicros), r.AmountMicros, r.CreatedAt, r.Reason,
        });
        return Json(new { Object = "list", Data = data });
    }
}
