using Chain.Core;
using Chain.Core.Protocol;
using Chain.Storage;

namespace Chain.Explorer;

/// <summary>
/// What the explorer reads from the node: the RPC server builds it from its <c>IRpcNode</c> (Chain.Rpc references this
/// project, so the explorer cannot name that interface). Every member is read per request, never while routes are
/// mapped, so a failing node fails the request (a 500), not the server's start. Safe from any thread.
/// </summary>
/// <param name="chainId">The chain the pages describe.</param>
/// <param name="blocks">Committed blocks, commits and receipts.</param>
/// <param name="validatorsAt">The validator set whose commit finalizes a height (null when not known).</param>
/// <param name="readState">The committed state value under a key (null when absent).</param>
public sealed class ExplorerSource(Func<ChainId> chainId, Func<BlockStore> blocks, Func<Height, ActiveValidators?> validatorsAt, Func<Hash32, byte[]?> readState)
{
    public ChainId ChainId => chainId();
    public BlockStore Blocks => blocks();
    public ActiveValidators? ValidatorsAt(Height height) => validatorsAt(height);
    public byte[]? ReadState(Hash32 key) => readState(key);
}
