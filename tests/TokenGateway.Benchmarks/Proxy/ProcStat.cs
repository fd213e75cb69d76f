using System.Globalization;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>What /proc says about a process (CPU time, resident memory) and about the machine (busy time, load).</summary>
internal static class ProcStat
{
    // NOTE: /proc counts CPU time in USER_HZ, which is 100 on Linux whatever the kernel's HZ.
    private const double TicksPerSecond = 100.0;

    /// <summary>User + system CPU seconds of every thread of the process so far (utime and stime of /proc/PID/stat).</summary>
    public static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // NOTE: the command name (field 2) is in parentheses and may hold spaces: count the fields after its ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }

    /// <summary>Resident set size in bytes (VmRSS of /proc/PID/status); 0 once the process is gone.</summary>
    public static long RssBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return 0;
    }

    /// <summary>Busy time of all CPUs from /proc/stat (user, nice, system, irq, softirq, steal), in seconds.</summary>
    public static double MachineBusySeconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long Field(int i) => long.Parse(fields[i], CultureInfo.InvariantCulture);
        return (Field(1) + Field(2) + Field(3) + Field(6) + Field(7) + Field(8)) / TicksPerSecond;
    }

    /// <summary>The 1-minute load average, as <c>uptime</c> shows it.</summary>
    public static double LoadAverage() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
}
