using System.Threading.Channels;
using Chain.Core.Protocol;

namespace Chain.Rpc;

/// <summary>
/// Fans committed blocks out to subscribers (SSE streams, commit-mode submissions). Each subscriber has a
/// bounded queue; one that falls behind is cut off (its reader completes with <see cref="BlockSubscription.Lagged"/>)
/// rather than slowing the node or growing memory without bound.
/// </summary>
public sealed class CommittedBlockFeed
{
    public const int DefaultQueueCapacity = 256;

    private readonly Lock _lock = new();
    private readonly List<BlockSubscription> _subscribers = [];
    private readonly int _queueCapacity;
    private readonly int _maxSubscribers;

    public CommittedBlockFeed(int queueCapacity = DefaultQueueCapacity, int maxSubscribers = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSubscribers, 1);
        _queueCapacity = queueCapacity;
        _maxSubscribers = maxSubscribers;
    }

    public int SubscriberCount
    {
        get { lock (_lock) return _subscribers.Count; }
    }

    /// <summary>A new subscription to blocks published from now on, or null when the subscriber limit is reached.</summary>
    public BlockSubscription? TrySubscribe()
    {
        lock (_lock)
        {
            if (_subscribers.Count >= _maxSubscribers) return null;
            var subscription = new BlockSubscription(this, _queueCapacity);
            _subscribers.Add(subscription);
            return subscription;
        }
    }

    /// <summary>Called by the node once <paramref name="block"/> is durably committed. Never blocks.</summary>
    public void Publish(Block block)
    {
        ArgumentNullException.ThrowIfNull(block);
        BlockSubscription[] targets;
        lock (_lock) targets = [.. _subscribers];
        foreach (var subscriber in targets)
            if (!subscriber.TryDeliver(block)) Remove(subscriber);
    }

    internal void Remove(BlockSubscription subscription)
    {
        lock (_lock) _subscribers.Remove(subscription);
    }
}

/// <summary>One subscriber's queue of committed blocks. Dispose to unsubscribe.</summary>
public sealed class BlockSubscription : IDisposable
{
    private readonly CommittedBlockFeed _feed;
    private readonly Channel<Block> _queue;

    internal BlockSubscription(CommittedBlockFeed feed, int capacity)
    {
        _feed = feed;
        _queue = Channel.CreateBounded<Block>(new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = false });
    }

    public ChannelReader<Block> Reader => _queue.Reader;

    /// <summary>True when this subscriber fell more than its queue's capacity behind and was cut off.</summary>
    public bool Lagged { get; private set; }

    internal bool TryDeliver(Block block)
    {
        if (_queue.Writer.TryWrite(block)) return true;
        Lagged = true;
        _queue.Writer.TryComplete();
        return false;
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _feed.Remove(this);
    }
}
