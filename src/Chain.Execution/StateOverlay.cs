using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.State;

namespace Chain.Execution;

/// <summary>
/// Uncommitted changes on top of the committed state: one layer for the block, and an optional
/// transaction layer above it that is merged on success or dropped on failure. This is what makes a
/// failed transaction change nothing but its fee and nonce.
/// </summary>
internal sealed class StateOverlay(IStateBackend committed)
{
    private readonly Dictionary<Hash32, byte[]?> _block = [];
    private Dictionary<Hash32, byte[]?>? _tx;

    public IReadOnlyDictionary<Hash32, byte[]?> Changes => _block;

    public byte[]? Get(Hash32 key)
    {
        if (_tx is not null && _tx.TryGetValue(key, out var t)) return t;
        return _block.TryGetValue(key, out var b) ? b : committed.Get(key);
    }

    public void Set(Hash32 key, byte[]? value) => (_tx ?? _block)[key] = value;

    public void BeginTransaction()
    {
        if (_tx is not null) throw new InvalidOperationException("a transaction layer is already open");
        _tx = [];
    }

    public void CommitTransaction()
    {
        foreach (var (k, v) in _tx ?? throw new InvalidOperationException("no transaction layer")) _block[k] = v;
        _tx = null;
    }

    public void RollbackTransaction() => _tx = null;

    public Account GetAccount(Address address) =>
        Get(StateKeys.Account(address)) is { } bytes ? Canonical.Decode<Account>(bytes) : Account.Empty;

    public void SetAccount(Address address, Account account) =>
        Set(StateKeys.Account(address), account.IsEmpty ? null : account.Encoded.ToArray());

    public ModelInfo? GetModel(Hash32 modelId) =>
        Get(StateKeys.Model(modelId)) is { } bytes ? Canonical.Decode<ModelInfo>(bytes) : null;
}
