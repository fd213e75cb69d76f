using Microsoft.AspNetCore.Http.HttpResults;
using TokenGateway.Errors;

namespace TokenGateway.Admin;

/// <summary>
/// A parameter minimal APIs cannot bind (an int from "abc", a missing required value) never reaches the handler: the
/// framework sets 400, still runs the endpoint filters and returns an empty result, so the client would get an empty
/// 400. This filter, innermost in the admin group, answers that 400 in OpenAI's shape instead.
/// </summary>
/// <remarks>
/// NOTE: a filter rather than <c>RouteHandlerOptions.ThrowOnBadRequest</c>: that option is app-wide (it changes /v1 and
/// /healthz too) and needs an exception-mapping middleware outside this feature; the filter lives with the admin group
/// and runs after the admin-token check, so an unauthenticated caller still gets 401. The handlers themselves take
/// query values as strings and validate them (see <see cref="AdminQuery"/>), so this is the net for what they do not.
/// </remarks>
internal sealed class AdminBindingFailureFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var result = await next(context);
        var response = context.HttpContext.Response;
        if (result is EmptyHttpResult && response.StatusCode == StatusCodes.Status400BadRequest && !response.HasStarted)
        {
            return OpenAIError.Result(StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_request",
                "A route, query or header parameter could not be read as its documented type.");
        }
        return result;
    }
}
