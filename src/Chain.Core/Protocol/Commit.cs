using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Hashing;
using MessagePack;

namespace Chain.Core.Protocol;

/// <summary>How much of the set's power a commit's signers must hold: 2/3 to finalize, 1/3 for attack evidence.</summary>
public enum CommitQuorum
{
    TwoThirds,
    OneThird,
}

/// <summary>One validator's precommit inside a commit: enough to rebuild and check the signed vote.</summary>
public readonly record struct CommitSignature(Address Validator, ulong TimestampMs, Signature Signature);

/// <summary>
/// Proof that a block was finalized: precommit signatures for <see cref="BlockHash"/> at
/// (<see cref="Height"/>, <see cref="Round"/>) from validators holding more than 2/3 of the power.
/// Signatures are sorted by strictly ascending validator address (one canonical order, no duplicates).
/// Encoding: <c>[height, round, blockHash: bin32, [[validator: bin20, timestampMs, signature: bin64], ...]]</c>.
/// </summary>
public sealed class Commit : CanonicalObject<Commit>, ICanonicalObject<Commit>
{
    private readonly CommitSignature[] _signatures;
    private Hash32? _hash;

    public Commit(Height height, Round round, Hash32 blockHash, IEnumerable<CommitSignature> signatures)
    {
        _signatures = signatures.OrderBy(s => s.Validator).ToArray();
        if (_signatures.Length == 0) throw new ArgumentException("a commit needs at least one signature", nameof(signatures));
        if (_signatures.Length > ProtocolLimits.MaxValidators)
            throw new ArgumentException($"more than {ProtocolLimits.MaxValidators} signatures", nameof(signatures));
        for (int i = 1; i < _signatures.Length; i++)
            if (_signatures[i].Validator == _signatures[i - 1].Validator)
                throw new ArgumentException($"validator {_signatures[i].Validator} signs twice", nameof(signatures));
        Height = height;
        Round = round;
        BlockHash = blockHash;
    }

    public Height Height { get; }
    public Round Round { get; }
    public Hash32 BlockHash { get; }
    public IReadOnlyList<CommitSignature> Signatures => _signatures;
    public Hash32 Hash => _hash ??= DomainHash.Compute(HashDomain.Commit, Encoded.Span);

    public static string KindName => "commit";
    public static int MaxEncodedSize => ProtocolLimits.MaxCommitBytes;

    /// <summary>The precommit vote that <paramref name="signature"/> signs.</summary>
    public Vote PrecommitFor(in CommitSignature signature) =>
        new(VoteType.Precommit, Height, Round, BlockHash, signature.TimestampMs, signature.Validator);

    /// <summary>
    /// The one commit check (consensus, block sync, execution and light clients all use it): this commit
    /// finalizes <paramref name="expectedBlockHash"/> at <paramref name="expectedHeight"/> under
    /// <paramref name="validators"/> when every signer is a validator, every signature is a valid precommit for
    /// <paramref name="chainId"/>, and the signers hold more than 2/3 of the power. Null when it does; otherwise a
    /// <see cref="VerifyFailureKind.BadCommit"/> naming the field, the expected and the actual value.
    /// <paramref name="signatures"/> checks Ed25519 signatures (e.g. through a cache); null checks them directly.
    /// </summary>
    public VerifyFailure? Verify(ChainId chainId, ValidatorSet validators, Height expectedHeight, Hash32 expectedBlockHash, ISignatureChecker? signatures = null) =>
        Verify(chainId, validators, expectedHeight, expectedBlockHash, CommitQuorum.TwoThirds, signatures);

    /// <summary>
    /// The same check with the signers' power required by <paramref name="quorum"/>: more than 1/3 is what
    /// light-client attack evidence needs (a light client trusting 1/3 of a set can be fooled by that much).
    /// </summary>
    public VerifyFailure? Verify(ChainId chainId, ValidatorSet validators, Height expectedHeight, Hash32 expectedBlockHash, CommitQuorum quorum, ISignatureChecker? signatures = null)
    {
        ArgumentNullException.ThrowIfNull(validators);
        if (Height != expectedHeight)
            return Fail($"commit is for height {Height}, expected {expectedHeight}", "height", expectedHeight.ToString(), Height.ToString());
        if (BlockHash != expectedBlockHash)
            return Fail($"commit is for block {BlockHash}, expected {expectedBlockHash}", "blockHash", expectedBlockHash.ToString(), BlockHash.ToString());
        ulong signedPower = 0;
        for (int i = 0; i < _signatures.Length; i++)
        {
            var sig = _signatures[i];
            if (!validators.TryGet(sig.Validator, out var validator, out _))
                return Fail($"signer {sig.Validator} is not a validator", $"signatures[{i}].validator", "a member of the validator set", sig.Validator.ToString());
            if (!SignatureValid(chainId, sig, validator.PublicKey, signatures))
                return Fail($"bad precommit signature from {sig.Validator}", $"signatures[{i}].signature", $"a precommit signature by {sig.Validator}", sig.Signature.ToString());
            signedPower += validator.Power; // cannot overflow: total power is bounded by MaxTotalVotingPower
        }
        bool enough = quorum == CommitQuorum.OneThird ? validators.ExceedsOneThird(signedPower) : validators.IsSupermajority(signedPower);
        string needed = quorum == CommitQuorum.OneThird ? "1/3" : "2/3";
        if (!enough)
            return Fail($"signers hold {signedPower} of {validators.TotalPower} voting power, not more than {needed}", "signatures",
                $"more than {needed} of {validators.TotalPower}", signedPower.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return null;

        static VerifyFailure Fail(string message, string field, string expected, string actual) =>
            new(VerifyFailureKind.BadCommit, message, Field: field, Expected: expected, Actual: actual);
    }

    /// <summary>The <see cref="VerifyFailure.Field"/> of <see cref="VerifyTrusting"/> when too little trusted power signed (light-client bisection pivots on it).</summary>
    public const string NotEnoughTrustedPowerField = "trustedPower";

    /// <summary>
    /// The light client's trust check (docs/light-client.md): the signers of this commit that are members of
    /// <paramref name="trusted"/> (a set the client already trusts, not necessarily the set that made the commit) hold
    /// more than <paramref name="trustNumerator"/>/<paramref name="trustDenominator"/> of its total power, every such
    /// signature being a valid precommit for <paramref name="chainId"/> under the trusted key. Signers outside
    /// <paramref name="trusted"/> are skipped: the commit's own set checks them (<see cref="Verify(ChainId, ValidatorSet, Height, Hash32, ISignatureChecker?)"/>).
    /// Null when it holds; a failure with field <see cref="NotEnoughTrustedPowerField"/> when too little trusted power signed.
    /// </summary>
    public VerifyFailure? VerifyTrusting(ChainId chainId, ValidatorSet trusted, ulong trustNumerator, ulong trustDenominator, ISignatureChecker? signatures = null)
    {
        ArgumentNullException.ThrowIfNull(trusted);
        if (trustDenominator == 0 || trustNumerator == 0 || trustNumerator > trustDenominator)
            throw new ArgumentOutOfRangeException(nameof(trustNumerator), $"trust level {trustNumerator}/{trustDenominator} is not in (0, 1]");
        ulong signedPower = 0;
        for (int i = 0; i < _signatures.Length; i++)
        {
            var sig = _signatures[i];
            if (!trusted.TryGet(sig.Validator, out var validator, out _)) continue;
            if (!SignatureValid(chainId, sig, validator.PublicKey, signatures))
                return new(VerifyFailureKind.BadCommit, $"bad precommit signature from trusted validator {sig.Validator}", Field: $"signatures[{i}].signature",
                    Expected: $"a precommit signature by {sig.Validator}", Actual: sig.Signature.ToString());
            signedPower += validator.Power;
        }
        if (trusted.Exceeds(signedPower, trustNumerator, trustDenominator)) return null;
        return new(VerifyFailureKind.BadCommit,
            $"trusted validators holding {signedPower} of {trusted.TotalPower} power signed, not more than {trustNumerator}/{trustDenominator}",
            Field: NotEnoughTrustedPowerField, Expected: $"more than {trustNumerator}/{trustDenominator} of {trusted.TotalPower}",
            Actual: signedPower.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// BFT time (docs/consensus.md, "Block time"): the power-weighted median of the signers' precommit timestamps — the
    /// earliest timestamp at which the signers holding at least half of the signed power have voted. The next block's
    /// time is exactly this, so no proposer and no clock held by less than half of the signers' power (less than 1/3
    /// of the set, when the rest is honest) can move it. Signers outside <paramref name="validators"/> are skipped
    /// (<see cref="Verify(ChainId, ValidatorSet, Height, Hash32, ISignatureChecker?)"/> refuses them anyway).
    /// </summary>
    public ulong MedianTimeMs(ValidatorSet validators)
    {
        ArgumentNullException.ThrowIfNull(validators);
        var weighted = new List<(ulong TimeMs, ulong Power)>(_signatures.Length);
        UInt128 signed = 0;
        foreach (var sig in _signatures)
        {
            if (!validators.TryGet(sig.Validator, out var v, out _)) continue;
            weighted.Add((sig.TimestampMs, v.Power));
            signed += v.Power;
        }
        if (weighted.Count == 0) throw new InvalidOperationException("no signer of this commit is in the validator set");
        weighted.Sort((a, b) => a.TimeMs.CompareTo(b.TimeMs));
        // The first timestamp where the power at or before it reaches half of the signed power (2·cumulative ≥ signed).
        UInt128 cumulative = 0;
        foreach (var (time, power) in weighted)
        {
            cumulative += power;
            if (cumulative * 2 >= signed) return time;
        }
        return weighted[^1].TimeMs;
    }

    // One signature of this commit, checked as the precommit it stands for (through the cache when one is given).
    private bool SignatureValid(ChainId chainId, in CommitSignature sig, PublicKey key, ISignatureChecker? signatures)
    {
        var message = PrecommitFor(sig).SignBytes(chainId);
        return signatures?.Verify(key, message, sig.Signature) ?? Ed25519.Verify(key, message, sig.Signature);
    }

    /// <summary><see cref="Verify(ChainId, ValidatorSet, Height, Hash32, ISignatureChecker?)"/> with the refusal as a message.</summary>
    public bool Verify(ChainId chainId, ValidatorSet validators, Height expectedHeight, Hash32 expectedBlockHash, out string reason)
    {
        var failure = Verify(chainId, validators, expectedHeight, expectedBlockHash);
        reason = failure?.Message ?? "";
        return failure is null;
    }

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(4);
        writer.Write(Height.Value);
        writer.Write(Round.Value);
        writer.Write(BlockHash);
        writer.WriteArrayHeader(_signatures.Length);
        foreach (var s in _signatures)
        {
            writer.WriteArrayHeader(3);
            writer.Write(s.Validator);
            writer.Write(s.TimestampMs);
            writer.Write(s.Signature);
        }
    }

    public static Commit ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(4, "commit");
        var height = new Height(reader.ReadUInt64("height"));
        var round = new Round(reader.ReadUInt32("round"));
        var blockHash = reader.ReadHash32("block hash");
        long at = reader.Offset;
        int count = reader.ReadArrayCount("commit signatures", ProtocolLimits.MaxValidators);
        if (count == 0) throw reader.Error(DecodeError.InvalidValue, "a commit needs at least one signature", at);
        var signatures = new CommitSignature[count];
        for (int i = 0; i < count; i++)
        {
            long sigAt = reader.Offset;
            reader.ReadArrayHeader(3, "commit signature");
            signatures[i] = new CommitSignature(reader.ReadAddress("validator"), reader.ReadUInt64("timestamp"), reader.ReadSignature("signature"));
            if (i > 0 && signatures[i].Validator.CompareTo(signatures[i - 1].Validator) <= 0)
                throw reader.Error(DecodeError.NonCanonical, "commit signatures are not in strictly ascending validator order", sigAt);
        }
        return new Commit(height, round, blockHash, signatures);
    }
}
