using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.Features;
using TokenGateway.Errors;

namespace TokenGateway.Admin;

internal static partial class AdminJson
{
    /// <summary>Admin bodies are a few hundred bytes; a larger one is refused (413) before it is parsed.</summary>
    public const long MaxBodyBytes = 64 * 1024;

    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        // NOTE: a property given twice is refused, not last-wins ({"amount_usd":5,"amount_usd":500}). Reading into a
        // JsonElement first checks every object of the body, ignored properties included; the typed read then also
        // catches the case variants it matches as one property (amount_usd and AMOUNT_USD).
        AllowDuplicateProperties = false,
    };

    [GeneratedRegex(@"^\$\.([A-Za-z0-9_]{1,64})\z")]
    private static partial Regex TopLevelProperty();

    /// <summary>A typed body, or (Body null) the 400 in OpenAI's shape to answer with.</summary>
    public static async Task<(T? Body, IResult? Error)> ReadAsync<T>(HttpContext context) where T : class
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = MaxBodyBytes;
        try
        {
            var element = await context.Request.ReadFromJsonAsync<JsonElement>(Options, context.RequestAborted);
            if (element.ValueKind == JsonValueKind.Object && element.Deserialize<T>(Options) is { } value) return (value, null);
        }
        catch (JsonException e)
        {
            // NOTE: the framework's message quotes client input at any length; the param names the property (64 characters at most).
            var property = e.Path is { } path && TopLevelProperty().Match(path) is { Success: true } m ? m.Groups[1].Value.ToLowerInvariant() : null;
            return (null, Invalid(property));
        }
        catch (InvalidOperationException)
        {
            return (null, OpenAIError.Result(StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_request", "The body must be JSON (Content-Type: application/json)."));
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, OpenAIError.Result(e.StatusCode, "invalid_request_error", "request_too_large", $"An admin request body is at most {MaxBodyBytes / 1024} KiB."));
        }
        return (null, Invalid(null));
    }

    private static IResult Invalid(string? property) =>
        OpenAIError.Result(StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_request",
            "The body must be one JSON object of the documented shape: valid JSON, each property at most once, values of the documented types"
            + (property is null ? "." : $" (see '{property}')."), property);
}
