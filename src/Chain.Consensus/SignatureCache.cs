using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Hashing;
using Chain.Core.Protocol;

namespace Chain.Consensus;

/// <summary>
/// Remembers Ed25519 verification results keyed by SHA-256(publicKey || signature || message). Verification is
/// a pure function, so a cached answer is exactly the answer; the simulator shares one cache between its
/// validators so each signature is checked once instead of once per validator. Not thread-safe.
/// </summary>
public sealed class SignatureCache : ISignatureChecker
{
    private readonly Dictionary<Hash32, bool> _results = new();

    public int Count => _results.Count;

    public bool Verify(in PublicKey publicKey, ReadOnlySpan<byte> message, in Signature signature)
    {
        var key = DomainHash.Sha256([.. publicKey.Bytes, .. signature.Bytes, .. message]);
        if (_results.TryGetValue(key, out bool ok)) return ok;
        ok = Ed25519.Verify(publicKey, message, signature); // Core remembers imported keys
        if (_results.Count > 1_000_000) _results.Clear();
        _results[key] = ok;
        return ok;
    }
}

/// <summary>Signature checks with an optional <see cref="SignatureCache"/>; same answers as the Core methods.</summary>
public static class Verification
{
    public static bool VerifyVote(this SignatureCache? cache, ChainId chainId, SignedVote vote, in PublicKey publicKey) =>
        cache is null ? vote.Verify(chainId, publicKey)
            : publicKey.Address == vote.Vote.Validator && cache.Verify(publicKey, vote.Vote.SignBytes(chainId), vote.Signature);

    public static bool VerifyProposal(this SignatureCache? cache, ChainId chainId, SignedProposal proposal, in PublicKey publicKey) =>
        cache is null ? proposal.Verify(chainId, publicKey)
            : publicKey.Address == proposal.Proposal.Proposer && cache.Verify(publicKey, proposal.Proposal.SignBytes(chainId), proposal.Signature);

    /// <summary>
    /// <see cref="Commit.Verify(ChainId, ValidatorSet, Height, Hash32, ISignatureChecker?)"/> through the cache, the
    /// refusal as a message (the shape the engine uses). Not a second implementation: Core's check decides.
    /// </summary>
    public static bool VerifyCommit(this SignatureCache? cache, Commit commit, ChainId chainId, ValidatorSet validators, Height height, Hash32 blockHash, out string reason)
    {
        ArgumentNullException.ThrowIfNull(commit);
        var failure = commit.Verify(chainId, validators, height, blockHash, cache);
        reason = failure?.Message ?? "";
        return failure is null;
    }
}
