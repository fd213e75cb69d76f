using Microsoft.Extensions.Options;
using TokenGateway.Configuration;

namespace TokenGateway.Pricing;

/// <summary>
/// The current pricing table, reloaded when the file changes. A file that fails to parse at start-up
/// stops the gateway; one that fails on reload is logged and the previous prices stay in force.
/// </summary>
internal sealed partial class PricingCatalog : IDisposable
{
    private readonly string _path;
    private readonly ILogger<PricingCatalog> _logger;
    private readonly FileSystemWatcher? _watcher;
    private readonly Timer _debounce;
    private volatile PricingTable _table;
    private string? _contentHash;

    public PricingCatalog(IOptions<GatewayOptions> options, ILogger<PricingCatalog> logger)
    {
        _logger = logger;
        var file = options.Value.Pricing.File;
        _path = Path.GetFullPath(Path.IsPathRooted(file) ? file : Path.Combine(AppContext.BaseDirectory, file));
        try
        {
            var bytes = File.ReadAllBytes(_path);
            _table = PricingTable.Parse(bytes);
            _contentHash = Hash(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            throw new OptionsValidationException(GatewayOptions.Section, typeof(GatewayOptions),
                [$"{GatewayOptions.Section}:Pricing:File '{_path}' could not be loaded: {e.Message}"]);
        }
        _debounce = new Timer(_ => Reload());
        // NOTE: watch the whole folder, not the file name: a Kubernetes ConfigMap update swaps a "..data"
        // symlink and raises no event for pricing.json itself. Bursts are debounced; Reload compares contents.
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(_path)!) { IncludeSubdirectories = false, EnableRaisingEvents = true };
        FileSystemEventHandler changed = (_, _) => _debounce.Change(TimeSpan.FromMilliseconds(200), Timeout.InfiniteTimeSpan);
        _watcher.Changed += changed;
        _watcher.Created += changed;
        _watcher.Deleted += changed;
        _watcher.Renamed += (_, _) => _debounce.Change(TimeSpan.FromMilliseconds(200), Timeout.InfiniteTimeSpan);
        Log.Loaded(_logger, _path, _table.Count);
    }

    public PricingTable Current => _table;

    public void Reload()
    {
        try
        {
            var bytes = File.ReadAllBytes(_path);
            var hash = Hash(bytes);
            if (hash == _contentHash) return;
            _table = PricingTable.Parse(bytes);
            _contentHash = hash;
            Log.Loaded(_logger, _path, _table.Count);
        }
        catch (Exception e)
        {
            // NOTE: this runs on a timer thread, where any exception would end the process: whatever the file
            // holds, the previous prices stay in force and one error is logged.
            Log.ReloadFailed(_logger, _path, e.Message);
        }
    }

    private static string Hash(byte[] bytes) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes));

    public void Dispose()
    {
        _watcher?.Dispose();
        _debounce.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Pricing loaded from {Path}: {Entries} entries")]
        public static partial void Loaded(ILogger logger, string path, int entries);

        [LoggerMessage(EventId = 101, Level = LogLevel.Error, Message = "Pricing file {Path} could not be reloaded, previous prices stay in force: {Reason}")]
        public static partial void ReloadFailed(ILogger logger, string path, string reason);
    }
}
