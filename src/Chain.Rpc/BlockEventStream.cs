using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Chain.Rpc;

/// <summary>
/// GET /events/blocks: Server-Sent Events, one <c>event: block</c> per committed block (data: <see cref="BlockEvent"/> JSON).
/// A client too slow to keep up receives <c>event: lagged</c> and the stream ends; it should reconnect and
/// fill the gap from /blocks/{height}.
/// </summary>
internal sealed class BlockEventStream(IRpcNode node, RpcOptions options)
{
    private int _open;

    public async Task StreamAsync(HttpContext context)
    {
        if (Interlocked.Increment(ref _open) > options.MaxEventStreams)
        {
            Interlocked.Decrement(ref _open);
            await RpcErrors.Unavailable($"at most {options.MaxEventStreams} event streams are open; retry later").ExecuteAsync(context).ConfigureAwait(false);
            return;
        }
        try
        {
            using var subscription = node.CommittedBlocks.TrySubscribe();
            if (subscription is null)
            {
                await RpcErrors.Unavailable("the node has too many block subscribers; retry later").ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            var response = context.Response;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";
            // The comment line flushes the headers, so a client knows it is subscribed from here on.
            await WriteAsync(response, ": subscribed\n\n", context.RequestAborted).ConfigureAwait(false);
            await PumpAsync(subscription, response, context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    private async Task PumpAsync(BlockSubscription subscription, HttpResponse response, CancellationToken aborted)
    {
        while (true)
        {
            using var keepAlive = CancellationTokenSource.CreateLinkedTokenSource(aborted);
            keepAlive.CancelAfter(options.EventKeepAlive);
            bool more;
            try
            {
                more = await subscription.Reader.WaitToReadAsync(keepAlive.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
            {
                await WriteAsync(response, ": keep-alive\n\n", aborted).ConfigureAwait(false);
                continue;
            }
            if (!more)
            {
                if (subscription.Lagged)
                    await WriteAsync(response, "event: lagged\ndata: {\"error\":\"this stream fell behind and was closed; reconnect\"}\n\n", aborted).ConfigureAwait(false);
                return;
            }
            while (subscription.Reader.TryRead(out var block))
            {
                var data = JsonSerializer.Serialize(new BlockEvent(block.Height.Value, block.Hash.ToString(), block.Transactions.Count,
                    block.Header.TimeMs, block.Header.StateRoot.ToString()), RpcJson.Options);
                await WriteAsync(response, $"event: block\nid: {block.Height}\ndata: {data}\n\n", aborted).ConfigureAwait(false);
            }
        }
    }

    private static async Task WriteAsync(HttpResponse response, string text, CancellationToken cancellationToken)
    {
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
