using System.Net;
using System.Text;

namespace Chain.Explorer;

/// <summary>
/// A small HTML writer: every text goes through <see cref="Text"/> (encoded), so a value read from the chain (a model
/// name, a label) can never become markup. Pages are complete documents that read without JavaScript.
/// </summary>
internal sealed class Html
{
    private readonly StringBuilder _b = new();

    public static string Encode(string? text) => WebUtility.HtmlEncode(text ?? "");

    /// <summary>Appends trusted markup (literals written in this project only).</summary>
    public Html Raw(string markup) { _b.Append(markup); return this; }

    public Html Text(string? text) { _b.Append(Encode(text)); return this; }

    public Html Element(string tag, string? text, string? attributes = null)
    {
        _b.Append('<').Append(tag);
        if (attributes is not null) _b.Append(' ').Append(attributes);
        _b.Append('>').Append(Encode(text)).Append("</").Append(tag).Append('>');
        return this;
    }

    public Html Link(string href, string text) =>
        Raw($"<a href=\"{Encode(href)}\">").Text(text).Raw("</a>");

    public Html Heading(int level, string text) => Element($"h{level}", text);

    public Html Paragraph(string text) => Element("p", text);

    /// <summary>A definition list of label → value (values encoded, or raw markup when <c>Markup</c> is set).</summary>
    public Html Fields(IEnumerable<(string Label, string Value, bool Markup)> rows)
    {
        _b.Append("<dl class=\"fields\">");
        foreach (var (label, value, markup) in rows)
        {
            _b.Append("<dt>").Append(Encode(label)).Append("</dt><dd>");
            _b.Append(markup ? value : Encode(value));
            _b.Append("</dd>");
        }
        _b.Append("</dl>");
        return this;
    }

    /// <summary>A table with a caption and column headers; each cell is markup the caller already encoded.</summary>
    public Html Table(string caption, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows, string? id = null)
    {
        _b.Append(id is null ? "<table>" : $"<table id=\"{Encode(id)}\">");
        _b.Append("<caption>").Append(Encode(caption)).Append("</caption><thead><tr>");
        foreach (var h in headers) _b.Append("<th scope=\"col\">").Append(Encode(h)).Append("</th>");
        _b.Append("</tr></thead><tbody>");
        foreach (var row in rows)
        {
            _b.Append("<tr>");
            foreach (var cell in row) _b.Append("<td>").Append(cell).Append("</td>");
            _b.Append("</tr>");
        }
        _b.Append("</tbody></table>");
        return this;
    }

    public static string A(string href, string text) => $"<a href=\"{Encode(href)}\">{Encode(text)}</a>";

    public static string Code(string text) => $"<code>{Encode(text)}</code>";

    /// <summary>The whole document: header navigation, the body, and the page's script modules (none needed to read it).</summary>
    public static string Document(string title, string chainId, Html body, params string[] scripts)
    {
        var d = new StringBuilder();
        d.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\" />");
        d.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />");
        d.Append("<title>").Append(Encode(title)).Append(" · ").Append(Encode(chainId)).Append(" explorer</title>");
        d.Append("<link rel=\"stylesheet\" href=\"/explorer/static/explorer.css\" />");
        foreach (var s in scripts) d.Append("<script type=\"module\" src=\"/explorer/static/").Append(Encode(s)).Append("\"></script>");
        d.Append("</head><body><a class=\"skip\" href=\"#main\">Skip to content</a>");
        d.Append("<header><nav aria-label=\"Explorer\"><ul>");
        d.Append("<li><a href=\"/explorer\">Blocks</a></li><li><a href=\"/explorer/validators\">Validators</a></li>");
        d.Append("</ul></nav>");
        d.Append("<form action=\"/explorer/search\" method=\"get\" role=\"search\"><label for=\"q\">Height, transaction hash, model id or address</label> ");
        d.Append("<input id=\"q\" name=\"q\" type=\"search\" required=\"required\" /> <button type=\"submit\">Go</button></form></header>");
        d.Append("<main id=\"main\">").Append(body._b).Append("</main>");
        d.Append("<footer><p>Chain ").Append(Encode(chainId)).Append(". Served by one node: the page says what your browser checked itself.</p></footer>");
        d.Append("</body></html>");
        return d.ToString();
    }
}
