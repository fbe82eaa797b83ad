using Microsoft.AspNetCore.Http;

namespace Chain.Rpc;

/// <summary>Reads a request body up to a limit, refusing (not truncating) anything longer.</summary>
internal static class BoundedBody
{
    /// <summary>The body, or null when it is longer than <paramref name="maxBytes"/>.</summary>
    public static async Task<byte[]?> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength is { } declared && declared > maxBytes) return null;
        using var buffer = new MemoryStream();
        var chunk = new byte[64 << 10];
        try
        {
            while (true)
            {
                int read = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
                if (read == 0) return buffer.ToArray();
                if (buffer.Length + read > maxBytes) return null;
                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return null; // a chunked body that Kestrel's own limit stopped
        }
    }
}
