using Microsoft.Extensions.Options;
using TokenGateway.Hosting;

try
{
    var app = GatewayApplication.Build(args);
    app.Run();
    return 0;
}
catch (Exception e) when (GatewayApplication.ConfigurationErrors(e) is { Count: > 0 } errors)
{
    // NOTE: one line per setting to fix, not a stack trace: this is what an operator reads in `kubectl logs`.
    foreach (var error in errors) Console.Error.WriteLine($"TokenGateway: configuration error: {error}");
    return 2;
}
