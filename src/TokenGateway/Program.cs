using TokenGateway.Hosting;

var app = GatewayApplication.Build(args);
app.Run();
