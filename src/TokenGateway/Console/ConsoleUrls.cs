namespace TokenGateway.BillingConsole;

/// <summary>Paths of the console's pages (one place, so links, redirects and the 429 guidance agree).</summary>
internal static class ConsoleUrls
{
    public const string Root = "/console";
    public const string SignIn = Root + "/signin";

    public static string Overview(string accountId) => $"{Root}/{Uri.EscapeDataString(accountId)}/overview";
    public static string Usage(string accountId) => $"{Root}/{Uri.EscapeDataString(accountId)}/usage";
    public static string Transactions(string accountId) => $"{Root}/{Uri.EscapeDataString(accountId)}/transactions";
    public static string Keys(string accountId) => $"{Root}/{Uri.EscapeDataString(accountId)}/keys";
}
