using Chain.Core;
using Chain.Storage;

namespace Chain.Execution;

/// <summary>
/// The seam between execution and the authenticated state store. Execution only ever reads the
/// committed state and hands over a block's changes as one map (key → new value, null = delete);
/// the backend alone decides how the root commits to the state. The Jellyfish Merkle tree adapter
/// (Chain.State) implements this; <see cref="InMemoryStateBackend"/> is the reference for tests.
/// </summary>
public interface IStateBackend
{
    /// <summary>Height of the committed state: 0 after genesis, then the height of the last committed block.
    /// Null before genesis has been applied.</summary>
    ulong? Version { get; }

    /// <summary>Root of the committed state.</summary>
    Hash32 Root { get; }

    /// <summary>The committed value under <paramref name="key"/>, or null.</summary>
    byte[]? Get(Hash32 key);

    /// <summary>The root the state would have after applying <paramref name="changes"/> to the committed state.
    /// Writes nothing and changes nothing; may be called any number of times (proposals that never commit).</summary>
    Hash32 ComputeRoot(IReadOnlyDictionary<Hash32, byte[]?> changes);

    /// <summary>
    /// Makes <paramref name="changes"/> the state at <paramref name="version"/>: adds every write to
    /// <paramref name="batch"/> (which the caller writes atomically with the block) and advances the view
    /// that <see cref="Get"/> and <see cref="Root"/> serve. If the caller then fails to write the batch the
    /// process must reopen the backend from the store; execution treats that as fatal.
    /// </summary>
    void Commit(ulong version, IReadOnlyDictionary<Hash32, byte[]?> changes, StoreBatch batch);
}
