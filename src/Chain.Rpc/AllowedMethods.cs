using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;

namespace Chain.Rpc;

/// <summary>
/// The methods the mapped endpoints take on a path. The catch-all fallback takes every method, so routing on its own
/// answers a known path asked with another method (<c>DELETE /status</c>) as an unknown path, 404; the fallback asks
/// this first and answers 405 with an <c>Allow</c> header instead (docs/rpc.md). The route table is read once, on first
/// use, when every route is mapped.
/// </summary>
internal sealed class AllowedMethods(IEnumerable<EndpointDataSource> sources)
{
    private readonly Lazy<(TemplateMatcher Matcher, IReadOnlyList<string> Methods)[]> _routes = new(() =>
    [
        .. sources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
            .Select(e => (Endpoint: e, Methods: e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods))
            .Where(r => r.Methods is { Count: > 0 }) // the fallback itself has none: it takes every method
            .Select(r => (new TemplateMatcher(new RouteTemplate(r.Endpoint.RoutePattern), new RouteValueDictionary()), r.Methods!)),
    ]);

    /// <summary>The methods some endpoint takes on <paramref name="path"/>, sorted; empty for a path no endpoint has.</summary>
    public IReadOnlyList<string> For(PathString path)
    {
        var methods = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (matcher, taken) in _routes.Value)
            if (matcher.TryMatch(path, new RouteValueDictionary())) methods.UnionWith(taken);
        return [.. methods];
    }
}
