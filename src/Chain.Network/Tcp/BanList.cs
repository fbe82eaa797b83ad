using System.Net;
using Chain.Core.Crypto;

namespace Chain.Network.Tcp;

/// <summary>
/// Node keys and IP addresses refused until a time on the injected clock. Bounded: when full, expired entries
/// go first, then the entry that expires soonest.
/// </summary>
internal sealed class BanList(TimeProvider time, int capacity)
{
    private readonly object _gate = new();
    private readonly Dictionary<PublicKey, DateTimeOffset> _keys = [];
    private readonly Dictionary<IPAddress, DateTimeOffset> _addresses = [];

    public void Ban(PublicKey key, IPAddress? address, TimeSpan duration)
    {
        var until = time.GetUtcNow() + duration;
        lock (_gate)
        {
            Add(_keys, key, until);
            if (address is not null) Add(_addresses, address, until);
        }
    }

    public bool IsBanned(PublicKey key) => Remaining(_keys, key) is not null;
    public bool IsBanned(IPAddress address) => Remaining(_addresses, address) is not null;

    /// <summary>How long the key stays banned, or null when it is not.</summary>
    public TimeSpan? RemainingBan(PublicKey key) => Remaining(_keys, key);

    private TimeSpan? Remaining<T>(Dictionary<T, DateTimeOffset> bans, T item) where T : notnull
    {
        lock (_gate)
        {
            if (!bans.TryGetValue(item, out var until)) return null;
            var left = until - time.GetUtcNow();
            if (left > TimeSpan.Zero) return left;
            bans.Remove(item);
            return null;
        }
    }

    private void Add<T>(Dictionary<T, DateTimeOffset> bans, T item, DateTimeOffset until) where T : notnull
    {
        if (bans.Count >= capacity && !bans.ContainsKey(item))
        {
            var now = time.GetUtcNow();
            foreach (var expired in bans.Where(b => b.Value <= now).Select(b => b.Key).ToList()) bans.Remove(expired);
            if (bans.Count >= capacity) bans.Remove(bans.MinBy(b => b.Value).Key);
        }
        // A second ban never shortens the first.
        if (!bans.TryGetValue(item, out var existing) || until > existing) bans[item] = until;
    }
}
