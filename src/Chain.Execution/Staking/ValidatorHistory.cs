using System.Buffers.Binary;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Storage;

namespace Chain.Execution;

/// <summary>
/// The validator set of every height this node has determined, kept in the store's meta column so that it survives
/// restarts (the state only holds the next two): <c>staking/active/&lt;height: u64 BE&gt;</c> → set hash (32 bytes) ‖
/// ActiveSince (u64 BE), and <c>staking/set/&lt;hash&gt;</c> → the set's canonical encoding (each distinct set once).
/// Written in the same batch as the block that determined the height (docs/staking.md, "History").
/// </summary>
internal sealed class ValidatorHistory(IKeyValueStore store)
{
    private static readonly byte[] ActivePrefix = "staking/active/"u8.ToArray();
    private static readonly byte[] SetPrefix = "staking/set/"u8.ToArray();
    private readonly Dictionary<ulong, ActiveValidators> _byHeight = [];
    private readonly Dictionary<Hash32, ValidatorSet> _byHash = [];
    private readonly Lock _lock = new();

    /// <summary>Adds the writes recording <paramref name="active"/> as the set of <paramref name="height"/> to <paramref name="batch"/>.</summary>
    public static void Record(StoreBatch batch, ulong height, ActiveValidators active)
    {
        Span<byte> value = stackalloc byte[Hash32.Size + 8];
        active.Hash.Bytes.CopyTo(value);
        BinaryPrimitives.WriteUInt64BigEndian(value[Hash32.Size..], active.ActiveSince.Value);
        batch.Put(Column.Meta, ActiveKey(height), value);
        batch.Put(Column.Meta, SetKey(active.Hash), active.Set.Encoded.Span);
    }

    /// <summary>The recorded set of <paramref name="height"/>, or null when none was recorded.</summary>
    public ActiveValidators? At(ulong height)
    {
        lock (_lock)
        {
            if (_byHeight.TryGetValue(height, out var cached)) return cached;
        }
        if (store.Get(Column.Meta, ActiveKey(height)) is not { } value) return null;
        if (value.Length != Hash32.Size + 8) throw new StoreCorruptedException($"validator history of height {height} is {value.Length} bytes, expected {Hash32.Size + 8}");
        var hash = new Hash32(value.AsSpan(0, Hash32.Size));
        var set = SetByHash(hash) ?? throw new StoreCorruptedException($"validator set {hash} of height {height} is missing");
        var active = new ActiveValidators(set, new Height(BinaryPrimitives.ReadUInt64BigEndian(value.AsSpan(Hash32.Size))));
        lock (_lock)
        {
            if (_byHeight.Count > 4096) _byHeight.Clear(); // a bound, not an LRU: the recent heights are asked again at once
            _byHeight[height] = active;
        }
        return active;
    }

    /// <summary>A set this node recorded, by hash (light clients and RPC ask by a header's ValidatorsHash).</summary>
    public ValidatorSet? SetByHash(Hash32 hash)
    {
        lock (_lock)
        {
            if (_byHash.TryGetValue(hash, out var cached)) return cached;
        }
        if (store.Get(Column.Meta, SetKey(hash)) is not { } bytes) return null;
        var set = Canonical.Decode<ValidatorSet>(bytes);
        if (set.Hash != hash) throw new StoreCorruptedException($"validator set stored under {hash} hashes to {set.Hash}");
        lock (_lock)
        {
            _byHash[hash] = set;
        }
        return set;
    }

    private static byte[] ActiveKey(ulong height)
    {
        var key = new byte[ActivePrefix.Length + 8];
        ActivePrefix.CopyTo(key, 0);
        BinaryPrimitives.WriteUInt64BigEndian(key.AsSpan(ActivePrefix.Length), height);
        return key;
    }

    private static byte[] SetKey(Hash32 hash) => [.. SetPrefix, .. hash.Bytes];
}
