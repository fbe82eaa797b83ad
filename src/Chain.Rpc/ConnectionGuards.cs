using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;

namespace Chain.Rpc;

/// <summary>The JSON error body every non-2xx answer carries, with its code for a status (docs/rpc.md).</summary>
internal static class ErrorBodies
{
    public static string CodeFor(int status) => status switch
    {
        400 => "bad_request",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        411 => "length_required",
        413 => "too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        429 => "too_many_connections",
        431 => "headers_too_large",
        500 => "internal",
        503 => "unavailable",
        505 => "http_version_not_supported",
        _ => $"http_{status}",
    };

    public static string MessageFor(int status) => status switch
    {
        400 => "malformed HTTP request (request line, header, or a path with a forbidden character such as %00)",
        404 => "no such endpoint (see docs/rpc.md)",
        405 => "method not allowed on this endpoint (see docs/rpc.md)",
        408 => "request timed out: headers or body arrived too slowly",
        411 => "a body needs a Content-Length or chunked encoding",
        413 => "request body over the limit",
        414 => "request line over the limit (8 KiB)",
        415 => "unsupported content type",
        429 => "too many connections from this client",
        431 => "request headers over the limit (32 KiB)",
        505 => "HTTP version not supported: use HTTP/1.1",
        _ => $"HTTP {status}",
    };

    public static byte[] Json(int status, string? message = null) =>
        JsonSerializer.SerializeToUtf8Bytes(new ErrorResponse(message ?? MessageFor(status), CodeFor(status)), RpcJson.Options);

    /// <summary>A whole HTTP/1.1 response that closes the connection: status line, JSON headers and body.</summary>
    public static byte[] RawResponse(int status, string reason)
    {
        var body = Json(status);
        var head = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        return [.. head, .. body];
    }
}

/// <summary>
/// At most <c>limit</c> concurrent connections from one IP address: a further one is answered 429 with a JSON body and
/// closed before Kestrel reads a byte of it, so one client cannot take the server's whole connection budget.
/// </summary>
internal sealed class PerClientConnectionLimit(int limit)
{
    private readonly ConcurrentDictionary<IPAddress, int> _open = new();
    private static readonly byte[] TooMany = ErrorBodies.RawResponse(429, "Too Many Requests");

    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (connection.RemoteEndPoint is not IPEndPoint { Address: var address })
        {
            await next(connection).ConfigureAwait(false);
            return;
        }
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (!TryEnter(address))
        {
            await connection.Transport.Output.WriteAsync(TooMany).ConfigureAwait(false);
            return; // Kestrel closes the connection
        }
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            Leave(address);
        }
    }

    private bool TryEnter(IPAddress address)
    {
        while (true)
        {
            int current = _open.GetOrAdd(address, 0);
            if (current >= limit) return false;
            if (_open.TryUpdate(address, current + 1, current)) return true;
        }
    }

    private void Leave(IPAddress address)
    {
        while (true)
        {
            int current = _open[address];
            if (current == 1)
            {
                if (_open.TryRemove(KeyValuePair.Create(address, 1))) return;
            }
            else if (_open.TryUpdate(address, current - 1, current)) return;
        }
    }
}

/// <summary>
/// Kestrel answers requests it cannot parse (a bad request line, <c>%00</c> in the path, headers or a request line over
/// the limit, an unknown HTTP version, a header or body timeout) itself, with an empty body and without running the
/// application. This connection middleware sees what Kestrel writes and gives such an answer (a non-2xx status,
/// <c>Content-Length: 0</c>) the same JSON body as every other error. Everything else passes through unchanged.
/// </summary>
internal static class JsonRejections
{
    public static async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var original = connection.Transport;
        var stream = new RewritingStream(original.Output);
        var output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        connection.Transport = new Duplex(original.Input, output);
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            await output.CompleteAsync().ConfigureAwait(false);
            connection.Transport = original;
        }
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;
        public PipeWriter Output => output;
    }

    /// <summary>Forwards writes to the transport, rewriting a write that is exactly one empty-bodied error response.</summary>
    private sealed class RewritingStream(PipeWriter transport) : Stream
    {
        private static readonly byte[] Prefix = "HTTP/1.1 "u8.ToArray();
        private static readonly byte[] EmptyBody = "\r\nContent-Length: 0\r\n"u8.ToArray();
        private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Rewrite(buffer.Span) is { } rewritten) buffer = rewritten;
            await transport.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override async Task FlushAsync(CancellationToken cancellationToken) =>
            await transport.FlushAsync(cancellationToken).ConfigureAwait(false);

        public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

        // "HTTP/1.1 4xx/5xx ...\r\n...\r\nContent-Length: 0\r\n...\r\n\r\n" and nothing after it: Kestrel's own rejection
        // (the application's errors always carry a JSON body).
        internal static byte[]? Rewrite(ReadOnlySpan<byte> data)
        {
            if (data.Length < Prefix.Length + 3 || !data.StartsWith(Prefix) || data.Length > 4096) return null;
            var code = data.Slice(Prefix.Length, 3);
            if (code[0] is not ((byte)'4' or (byte)'5') || code[1] is < (byte)'0' or > (byte)'9' || code[2] is < (byte)'0' or > (byte)'9') return null;
            int end = data.IndexOf(HeadEnd);
            if (end < 0 || end + HeadEnd.Length != data.Length) return null;
            int empty = data.IndexOf(EmptyBody);
            if (empty < 0 || empty > end) return null;
            int status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
            var body = ErrorBodies.Json(status);
            var writer = new ArrayBufferWriter<byte>(data.Length + body.Length + 64);
            writer.Write(data[..empty]);
            writer.Write(Encoding.ASCII.GetBytes($"\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {body.Length}\r\n"));
            writer.Write(data[(empty + EmptyBody.Length)..]);
            writer.Write(body);
            return writer.WrittenSpan.ToArray();
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>
/// Gives a non-2xx answer the application produced without a body (routing's 405, a 400/408/413 from reading the body)
/// the JSON error body.
/// </summary>
internal static class JsonStatusBodies
{
    public static async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        await next(context).ConfigureAwait(false);
        var response = context.Response;
        if (response.HasStarted || response.StatusCode < 400 || response.ContentLength > 0 || response.ContentType is not null) return;
        var body = ErrorBodies.Json(response.StatusCode);
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }
}
