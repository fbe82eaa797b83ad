using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Chain.Explorer;

/// <summary>
/// Maps the explorer onto the RPC server: <c>ExplorerRoutes.Map(app, source)</c>, one call in its route table.
/// Pages are HTML with a strict Content-Security-Policy (only this origin's scripts, styles and fetches; no inline
/// script), static files come from this assembly's embedded resources.
/// </summary>
public static class ExplorerRoutes
{
    /// <summary>Scripts and styles only from this origin; inline SVG images; fetches and SSE to this node only.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    private static readonly IReadOnlyDictionary<string, (byte[] Bytes, string ContentType)> StaticFiles = LoadStaticFiles();

    public static void Map(IEndpointRouteBuilder app, ExplorerSource source)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(source);
        var pages = new ExplorerPages(source);
        app.MapGet("/", () => Results.Redirect("/explorer"));
        app.MapGet("/explorer", (HttpContext c) => WriteAsync(c, pages.Home()));
        app.MapGet("/explorer/blocks/{height}", (HttpContext c, string height) => WriteAsync(c, pages.Block(height)));
        app.MapGet("/explorer/txs/{hash}", (HttpContext c, string hash) => WriteAsync(c, pages.Transaction(hash)));
        app.MapGet("/explorer/models/{id}", (HttpContext c, string id) => WriteAsync(c, pages.Model(id)));
        app.MapGet("/explorer/accounts/{address}", (HttpContext c, string address) => WriteAsync(c, pages.Account(address)));
        app.MapGet("/explorer/validators", (HttpContext c) => WriteAsync(c, pages.Validators()));
        app.MapGet("/explorer/search", (HttpContext c, string? q) =>
            pages.SearchTarget(q) is { } target ? Task.Run(() => c.Response.Redirect(target)) : WriteAsync(c, pages.SearchMiss(q)));
        app.MapGet("/explorer/static/{name}", (HttpContext c, string name) => WriteStaticAsync(c, name));
    }

    private static async Task WriteAsync(HttpContext context, ExplorerPage page)
    {
        var response = context.Response;
        response.StatusCode = page.Status;
        response.ContentType = "text/html; charset=utf-8";
        SecurityHeaders(response);
        response.Headers.CacheControl = "no-cache";
        await response.WriteAsync(page.Html, context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task WriteStaticAsync(HttpContext context, string name)
    {
        var response = context.Response;
        SecurityHeaders(response);
        if (!StaticFiles.TryGetValue(name, out var file))
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync($"no explorer file '{name}'", context.RequestAborted).ConfigureAwait(false);
            return;
        }
        response.ContentType = file.ContentType;
        response.ContentLength = file.Bytes.Length;
        response.Headers.CacheControl = "no-cache";
        await response.Body.WriteAsync(file.Bytes, context.RequestAborted).ConfigureAwait(false);
    }

    private static void SecurityHeaders(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
    }

    private static Dictionary<string, (byte[], string)> LoadStaticFiles()
    {
        var assembly = typeof(ExplorerRoutes).Assembly;
        var files = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith("explorer/", StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            var name = resource["explorer/".Length..];
            var type = Path.GetExtension(name) switch
            {
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                _ => "application/octet-stream",
            };
            files[name] = (memory.ToArray(), type);
        }
        return files;
    }
}
