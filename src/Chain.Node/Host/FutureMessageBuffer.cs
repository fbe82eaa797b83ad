namespace Chain.Node.Host;

/// <summary>
/// Consensus messages for heights this node has not reached, held until it gets there. Bounded twice: only the
/// next <c>maxHeights</c> heights are kept, and each holds at most <c>maxPerHeight</c> messages; the rest is
/// dropped (re-gossip brings it again).
/// </summary>
public sealed class FutureMessageBuffer<T>(int maxHeights, int maxPerHeight)
{
    private readonly SortedDictionary<ulong, List<T>> _byHeight = [];

    public int Count => _byHeight.Values.Sum(l => l.Count);

    /// <summary>Holds <paramref name="message"/> for <paramref name="height"/>; false (dropped) when over a bound.</summary>
    public bool TryAdd(ulong current, ulong height, T message)
    {
        if (height <= current || height - current > (ulong)maxHeights) return false;
        if (!_byHeight.TryGetValue(height, out var list)) _byHeight[height] = list = [];
        if (list.Count >= maxPerHeight) return false;
        list.Add(message);
        return true;
    }

    /// <summary>Removes and returns the messages for <paramref name="current"/>, dropping those of earlier heights.</summary>
    public IReadOnlyList<T> TakeReady(ulong current)
    {
        var ready = new List<T>();
        foreach (var h in _byHeight.Keys.Where(h => h <= current).ToList())
        {
            if (h == current) ready.AddRange(_byHeight[h]);
            _byHeight.Remove(h);
        }
        return ready;
    }
}
