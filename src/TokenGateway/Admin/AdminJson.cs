using System.Text.Json;

namespace TokenGateway.Admin;

internal static class AdminJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>A typed body, or null (with a 400 already written) when it is not valid JSON of that shape.</summary>
    public static async Task<T?> ReadAsync<T>(HttpContext context) where T : class
    {
        try
        {
            var value = await context.Request.ReadFromJsonAsync<T>(Options, context.RequestAborted);
            if (value is not null) return value;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
        }
        await Errors.OpenAIError.InvalidRequest(context, $"The body must be a JSON object of the documented shape ({typeof(T).Name}).");
        return null;
    }
}
