using System.Buffers.Binary;
using Chain.Consensus.Storage;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using MessagePack;

namespace Chain.Consensus;

/// <summary>Signs the engine's proposals and votes. Returns null and a reason when it refuses.</summary>
public interface IConsensusSigner
{
    Address Address { get; }
    SignedVote? SignVote(ChainId chainId, Vote vote, out string reason);
    SignedProposal? SignProposal(ChainId chainId, Proposal proposal, out string reason);
}

/// <summary>Signs anything, with no memory. Only for byzantine actors in the simulator and for tests.</summary>
public sealed class UnguardedSigner(PrivateKey key) : IConsensusSigner
{
    public Address Address => key.Address;

    public SignedVote? SignVote(ChainId chainId, Vote vote, out string reason)
    {
        reason = "";
        return vote.Sign(chainId, key);
    }

    public SignedProposal? SignProposal(ChainId chainId, Proposal proposal, out string reason)
    {
        reason = "";
        return proposal.Sign(chainId, key);
    }
}

/// <summary>
/// Double-sign protection. Remembers the last signed (height, round, step), the block it named and the
/// signed message, in a file that is synced before any signature is returned. Refuses a lower HRS, and
/// at the same HRS anything that names another block (or another polRound); the same request gets the
/// stored message back, so a restarted validator re-broadcasts exactly what it signed before.
/// File: <c>"CHAINSG1" || len: u32 LE || crc32c(payload): u32 LE || payload</c>,
/// payload = <c>[height, round, step, blockHash | nil, polRound | nil, signedMessage: bin]</c>.
/// </summary>
public sealed class SignerGuard : IConsensusSigner
{
    private static readonly byte[] Magic = "CHAINSG1"u8.ToArray();
    private readonly PrivateKey _key;
    private readonly IFileSystem _fs;
    private readonly string _path;
    private State? _last;

    private sealed record State(Height Height, Round Round, Step Step, Hash32? BlockHash, Round? PolRound, byte[] Signed);

    private SignerGuard(PrivateKey key, IFileSystem fs, string path, State? last)
    {
        _key = key;
        _fs = fs;
        _path = path;
        _last = last;
    }

    public Address Address => _key.Address;

    /// <summary>The last signed position, or null before the first signature.</summary>
    public (Height Height, Round Round, Step Step)? Last => _last is { } s ? (s.Height, s.Round, s.Step) : null;

    /// <summary>Loads the guard state; a missing file is a fresh validator, a damaged one is fatal (never guess).</summary>
    public static SignerGuard Open(PrivateKey key, IFileSystem fs, string path)
    {
        var bytes = fs.ReadAll(path);
        return new SignerGuard(key, fs, path, bytes is null ? null : Parse(bytes, path));
    }

    private static State Parse(byte[] bytes, string path)
    {
        if (bytes.Length < 16 || !bytes.AsSpan(0, 8).SequenceEqual(Magic))
            throw new InvalidDataException($"signer state {path}: bad header");
        uint len = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12));
        if (len != bytes.Length - 16 || Crc32C.Compute(bytes.AsSpan(16)) != crc)
            throw new InvalidDataException($"signer state {path}: length or checksum mismatch; refusing to sign until an operator fixes it");
        var reader = new CanonicalReader(bytes.AsMemory(16), "signer state");
        reader.ReadArrayHeader(6, "signer state");
        var h = new Height(reader.ReadUInt64("height"));
        var r = new Round(reader.ReadUInt32("round"));
        byte step = reader.ReadByte("step");
        Hash32? hash = reader.TryReadNil() ? null : reader.ReadHash32("block hash");
        Round? pol = reader.TryReadNil() ? null : new Round(reader.ReadUInt32("pol round"));
        var signed = reader.ReadBytes("signed message", 1024);
        if (step is < 1 or > 3 || !reader.End) throw new InvalidDataException($"signer state {path}: malformed");
        return new State(h, r, (Step)step, hash, pol, signed);
    }

    public SignedVote? SignVote(ChainId chainId, Vote vote, out string reason)
    {
        var step = vote.Type == VoteType.Prevote ? Step.Prevote : Step.Precommit;
        if (vote.Validator != Address) { reason = $"vote is for {vote.Validator}, this key is {Address}"; return null; }
        if (!Check(vote.Height, vote.Round, step, vote.BlockHash, null, out bool same, out reason)) return null;
        if (same) return Canonical.Decode<SignedVote>(_last!.Signed);
        var signed = vote.Sign(chainId, _key);
        Persist(new State(vote.Height, vote.Round, step, vote.BlockHash, null, signed.Encoded.ToArray()));
        return signed;
    }

    public SignedProposal? SignProposal(ChainId chainId, Proposal proposal, out string reason)
    {
        if (proposal.Proposer != Address) { reason = $"proposal is for {proposal.Proposer}, this key is {Address}"; return null; }
        if (!Check(proposal.Height, proposal.Round, Step.Propose, proposal.BlockHash, proposal.PolRound, out bool same, out reason)) return null;
        if (same) return Canonical.Decode<SignedProposal>(_last!.Signed);
        var signed = proposal.Sign(chainId, _key);
        Persist(new State(proposal.Height, proposal.Round, Step.Propose, proposal.BlockHash, proposal.PolRound, signed.Encoded.ToArray()));
        return signed;
    }

    private bool Check(Height h, Round r, Step s, Hash32? hash, Round? pol, out bool same, out string reason)
    {
        same = false;
        reason = "";
        if (_last is not { } last) return true;
        int cmp = h.CompareTo(last.Height);
        if (cmp == 0) cmp = r.CompareTo(last.Round);
        if (cmp == 0) cmp = ((byte)s).CompareTo((byte)last.Step);
        if (cmp > 0) return true;
        if (cmp < 0)
        {
            reason = $"({h},{r},{s}) is below the last signed ({last.Height},{last.Round},{last.Step})";
            return false;
        }
        if (last.BlockHash != hash || last.PolRound != pol)
        {
            reason = $"already signed ({h},{r},{s}) for block {Show(last.BlockHash)}, refusing {Show(hash)}";
            return false;
        }
        same = true;
        return true;
    }

    private static string Show(Hash32? h) => h?.ToString()[..12] ?? "nil";

    // Synced before the caller can see the signature: a crash after this point leaves a guard that knows.
    private void Persist(State s)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        var w = new MessagePackWriter(buffer);
        w.WriteArrayHeader(6);
        w.Write(s.Height.Value);
        w.Write(s.Round.Value);
        w.Write((byte)s.Step);
        w.WriteOptional(s.BlockHash);
        if (s.PolRound is { } p) w.Write(p.Value); else w.WriteNil();
        w.Write(s.Signed);
        w.Flush();
        var payload = buffer.WrittenSpan;
        var file = new byte[16 + payload.Length];
        Magic.CopyTo(file, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(8), (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(12), Crc32C.Compute(payload));
        payload.CopyTo(file.AsSpan(16));
        _fs.WriteAtomic(_path, file);
        _last = s;
    }
}
