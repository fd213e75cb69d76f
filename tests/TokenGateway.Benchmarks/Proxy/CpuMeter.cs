using System.Diagnostics;
using System.Globalization;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// CPU seconds spent during a run by the servers (this process and its redis-server/node children) and
/// by the whole machine, so that a report shows how much of the 2 cores went to other people's work.
/// </summary>
internal sealed class CpuMeter
{
    private readonly Process[] _servers;
    private readonly double _machineBusy;
    private readonly double _serversBusy;

    private CpuMeter(Process[] servers)
    {
        _servers = servers;
        _machineBusy = MachineBusySeconds();
        _serversBusy = ServersSeconds(servers);
    }

    public static CpuMeter Start(IEnumerable<Process> servers) => new([Process.GetCurrentProcess(), .. servers]);

    /// <returns>CPU seconds of the servers, and of the whole machine, since <see cref="Start"/>.</returns>
    public (double Servers, double Machine) Stop() =>
        (ServersSeconds(_servers) - _serversBusy, MachineBusySeconds() - _machineBusy);

    private static double ServersSeconds(Process[] servers)
    {
        var total = 0.0;
        foreach (var p in servers)
        {
            p.Refresh();
            total += p.TotalProcessorTime.TotalSeconds;
        }
        return total;
    }

    /// <summary>Busy time of all CPUs from /proc/stat (user, nice, system, irq, softirq, steal), in seconds.</summary>
    private static double MachineBusySeconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long Field(int i) => long.Parse(fields[i], CultureInfo.InvariantCulture);
        // NOTE: /proc/stat counts in USER_HZ, which is 100 on Linux whatever the kernel's HZ.
        return (Field(1) + Field(2) + Field(3) + Field(6) + Field(7) + Field(8)) / 100.0;
    }

    /// <summary>The 1-minute load average, as <c>uptime</c> shows it.</summary>
    public static double LoadAverage() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
}
