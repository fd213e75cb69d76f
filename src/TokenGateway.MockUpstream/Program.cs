using TokenGateway.MockUpstream;

// Stand-alone mock upstream for the quickstart and benchmarks: dotnet run -- --urls http://127.0.0.1:5081
var url = args.SkipWhile(a => a != "--urls").Skip(1).FirstOrDefault() ?? "http://127.0.0.1:5081";
await using var server = await MockUpstreamServer.StartAsync(url: url, recordRequests: false);
Console.WriteLine($"Mock OpenAI upstream listening on {server.BaseUrl}");
await server.WaitForShutdownAsync();
