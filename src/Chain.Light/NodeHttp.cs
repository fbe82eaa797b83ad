using System.Net.Http.Json;
using System.Text.Json;
using Chain.Core.Codec;
using Chain.Rpc;

namespace Chain.Light;

/// <summary>The one way the light client talks to a node: JSON GET/POST with errors as <see cref="LightClientException"/>.</summary>
internal static class NodeHttp
{
    public static async Task<T> GetAsync<T>(HttpClient http, string path, CancellationToken ct)
    {
        using var response = await SendAsync(http, path, () => http.GetAsync(path, ct), ct).ConfigureAwait(false);
        return await ReadAsync<T>(response, path, ct).ConfigureAwait(false);
    }

    public static async Task<TResponse> PostAsync<TRequest, TResponse>(HttpClient http, string path, TRequest body, CancellationToken ct)
    {
        using var response = await SendAsync(http, path, () => http.PostAsJsonAsync(path, body, RpcJson.Options, ct), ct).ConfigureAwait(false);
        return await ReadAsync<TResponse>(response, path, ct).ConfigureAwait(false);
    }

    /// <summary>Decodes served canonical bytes (base64) strictly.</summary>
    public static T Decode<T>(string? base64, string what) where T : ICanonicalObject<T>
    {
        if (!LightVerifier.TryBase64(base64, out var bytes)) throw new LightClientException($"served {what} bytes are not base64");
        return Canonical.TryDecode<T>(bytes, out var value, out var error)
            ? value!
            : throw new LightClientException($"served {what} is not canonical: {error!.Message}");
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, string path, Func<Task<HttpResponseMessage>> send, CancellationToken ct)
    {
        try
        {
            return await send().ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new LightClientException($"cannot reach the node at {http.BaseAddress}: {e.Message}", inner: e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new LightClientException($"the node at {http.BaseAddress} did not answer {path} within {http.Timeout.TotalSeconds:F0} s", inner: e);
        }
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, string path, CancellationToken ct)
    {
        try
        {
            if (!response.IsSuccessStatusCode)
            {
                var error = await ReadErrorAsync(response, ct).ConfigureAwait(false);
                throw new LightClientException($"{path}: {error ?? $"HTTP {(int)response.StatusCode}"}", status: (int)response.StatusCode);
            }
            return await response.Content.ReadFromJsonAsync<T>(RpcJson.Options, ct).ConfigureAwait(false)
                ?? throw new LightClientException($"{path}: empty response");
        }
        catch (JsonException e)
        {
            throw new LightClientException($"{path}: malformed response: {e.Message}", status: (int)response.StatusCode, inner: e);
        }
    }

    private static async Task<string?> ReadErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            return (await response.Content.ReadFromJsonAsync<ErrorResponse>(RpcJson.Options, ct).ConfigureAwait(false))?.Error;
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            return null;
        }
    }
}
