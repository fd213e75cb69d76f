namespace TokenGateway.Pricing;

/// <summary>One billed dimension of a request: OpenAI's Costs API calls it a line item.</summary>
/// <param name="Picos">The exact amount in pico-USD before the request's one rounding.</param>
internal readonly record struct LineItem(string Name, long Quantity, decimal PicosPerUnit)
{
    public decimal Picos => Quantity * PicosPerUnit;
}

/// <summary>A request's charge: the line items with a quantity, and their sum rounded up once to micro-USD.</summary>
internal sealed record Charge(long Micros, IReadOnlyList<LineItem> Lines)
{
    public static readonly Charge None = new(0, []);

    public static Charge Of(IEnumerable<LineItem> lines)
    {
        var billed = lines.Where(l => l.Quantity > 0).ToList();
        return new Charge(Money.CeilToMicros(billed.Sum(l => l.Picos)), billed);
    }
}
