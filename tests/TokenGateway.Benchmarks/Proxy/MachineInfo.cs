using System.Diagnostics;
using System.Runtime.InteropServices;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>Facts about the machine and the tools, for the report.</summary>
internal static class MachineInfo
{
    public static string CpuModel() =>
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";

    public static string Os() =>
        File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?.Split('=', 2)[1].Trim('"') ?? "?"
            : RuntimeInformation.OSDescription;

    public static string Runtime() => $"{RuntimeInformation.FrameworkDescription}, server GC {System.Runtime.GCSettings.IsServerGC}";

    /// <summary>First line a tool prints for its version flag (wrk prints it on stderr, with a non-zero exit).</summary>
    public static string ToolVersion(string tool, string flag)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(tool, [flag]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "?";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "not installed";
        }
    }
}
