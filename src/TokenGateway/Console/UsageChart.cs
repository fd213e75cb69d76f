using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Html;

namespace TokenGateway.BillingConsole;

/// <summary>
/// A stacked bar chart (one bar a day, one colour a group) drawn on the server as inline SVG: no script, no library,
/// readable by a screen reader (role img, a title and a description; the table under it has every number).
/// </summary>
internal static class UsageChart
{
    // NOTE: colours that stay apart for the common colour-vision deficiencies (Okabe-Ito), repeated past eight groups.
    public static readonly string[] Palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

    private const int Width = 760, Height = 240, Left = 70, Bottom = 24, Top = 10;

    /// <param name="values">Per day and group, the value to draw.</param>
    /// <param name="format">How an axis value and a bar's tooltip print (e.g. dollars, tokens).</param>
    public static IHtmlContent Render(string id, string title, IReadOnlyList<DateOnly> days, IReadOnlyList<string> groups,
        Func<DateOnly, string, long> values, Func<long, string> format)
    {
        var totals = days.Select(d => groups.Sum(g => values(d, g))).ToList();
        var max = Math.Max(1, totals.DefaultIfEmpty(0).Max());
        var plotWidth = Width - Left - 10;
        var plotHeight = Height - Top - Bottom;
        var slot = days.Count == 0 ? plotWidth : (double)plotWidth / days.Count;
        var svg = new StringBuilder();
        string N(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        string E(string s) => WebUtility.HtmlEncode(s);
        svg.Append(CultureInfo.InvariantCulture, $"<svg class=\"chart\" id=\"{E(id)}\" role=\"img\" aria-labelledby=\"{E(id)}-title {E(id)}-desc\" viewBox=\"0 0 {Width} {Height}\" xmlns=\"http://www.w3.org/2000/svg\">");
        svg.Append(CultureInfo.InvariantCulture, $"<title id=\"{E(id)}-title\">{E(title)}</title>");
        svg.Append(CultureInfo.InvariantCulture, $"<desc id=\"{E(id)}-desc\">Total {E(format(totals.Sum()))} over {days.Count} days; the table below lists every value.</desc>");
        for (var i = 0; i <= 2; i++)
        {
            var y = Top + plotHeight - plotHeight * i / 2.0;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" x2=\"{Width - 10}\" y1=\"{N(y)}\" y2=\"{N(y)}\" stroke=\"#ccc\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{N(y + 4)}\" text-anchor=\"end\" font-size=\"11\">{E(format(max * i / 2))}</text>");
        }
        for (var d = 0; d < days.Count; d++)
        {
            var x = Left + d * slot + slot * 0.15;
            var y = (double)(Top + plotHeight);
            for (var g = 0; g < groups.Count; g++)
            {
                var v = values(days[d], groups[g]);
                if (v == 0) continue;
                var h = plotHeight * (double)v / max;
                y -= h;
                svg.Append(CultureInfo.InvariantCulture,
                    $"<rect x=\"{N(x)}\" y=\"{N(y)}\" width=\"{N(slot * 0.7)}\" height=\"{N(Math.Max(h, 0.5))}\" fill=\"{Palette[g % Palette.Length]}\"><title>{E(days[d].ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))} {E(groups[g])}: {E(format(v))}</title></rect>");
            }
            if (d % 5 == 0 || d == days.Count - 1)
            {
                svg.Append(CultureInfo.InvariantCulture,
                    $"<text x=\"{N(Left + d * slot + slot / 2)}\" y=\"{Height - 6}\" text-anchor=\"middle\" font-size=\"11\">{days[d].Day}</text>");
            }
        }
        svg.Append("</svg>");
        return new HtmlString(svg.ToString());
    }
}
