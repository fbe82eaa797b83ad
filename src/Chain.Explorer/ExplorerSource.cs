using Chain.Core;
using Chain.Core.Protocol;
using Chain.Storage;

namespace Chain.Explorer;

/// <summary>
/// What the explorer reads from the node: the RPC server builds it from its <c>IRpcNode</c> (Chain.Rpc references this
/// project, so the explorer cannot name that interface). Read-only; every member must be safe from any thread.
/// </summary>
/// <param name="ChainId">The chain the pages describe.</param>
/// <param name="Blocks">Committed blocks, commits and receipts.</param>
/// <param name="ValidatorsAt">The validator set whose commit finalizes a height (null when not known).</param>
/// <param name="ReadState">The committed state value under a key (null when absent).</param>
public sealed record ExplorerSource(ChainId ChainId, BlockStore Blocks, Func<Height, ActiveValidators?> ValidatorsAt, Func<Hash32, byte[]?> ReadState);
