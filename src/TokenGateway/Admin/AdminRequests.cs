namespace TokenGateway.Admin;

internal sealed record CreateAccountBody(string? Id, string? Name);
internal sealed record CreateKeyBody(string? Name, string[]? Models, decimal? MonthlyLimitUsd, DateTimeOffset? ExpiresAt, string? Project);
internal sealed record AlertsBody(int[]? ThresholdsPercent, decimal? LowBalanceUsd);
internal sealed record AddCreditsBody(decimal? AmountUsd, DateTimeOffset? ExpiresAt, string? Source);
internal sealed record LimitsBody(decimal? HardLimitUsd, decimal? SoftLimitUsd);

internal sealed record AutoRechargeBody(bool? Enabled, decimal? ThresholdUsd, decimal? AmountUsd, decimal? MonthlyLimitUsd, string? Mode, decimal? TargetBalanceUsd);
