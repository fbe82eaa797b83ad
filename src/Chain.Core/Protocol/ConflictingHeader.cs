using Chain.Core.Codec;
using MessagePack;

namespace Chain.Core.Protocol;

/// <summary>
/// Light-client attack evidence: a header for a height the chain has already decided, which is not the chain's
/// header at that height, with a commit for it signed by validators of that height. A light client that meets one
/// (from a primary or a witness) submits it; a full node checks it against its own chain and slashes the signers
/// who are provably faulty (docs/light-client.md, "Attack evidence"). It lives in Core so that the light client,
/// which depends on Core only, builds exactly the bytes the full node decodes.
/// Encoding, as an evidence item: <c>[3, header, commit]</c>.
/// </summary>
public sealed class ConflictingHeader : CanonicalObject<ConflictingHeader>, ICanonicalObject<ConflictingHeader>
{
    /// <summary>The evidence kind tag (after duplicate vote = 1 and invalid proposal = 2).</summary>
    public const byte EvidenceKind = 3;

    public ConflictingHeader(BlockHeader header, Commit commit)
    {
        Header = header ?? throw new ArgumentNullException(nameof(header));
        Commit = commit ?? throw new ArgumentNullException(nameof(commit));
        if (commit.Height != header.Height)
            throw new ArgumentException($"commit is for height {commit.Height}, header for {header.Height}", nameof(commit));
        if (commit.BlockHash != header.Hash)
            throw new ArgumentException($"commit is for block {commit.BlockHash}, not this header {header.Hash}", nameof(commit));
    }

    public BlockHeader Header { get; }
    public Commit Commit { get; }
    public Height Height => Header.Height;

    public static string KindName => "conflicting header evidence";
    public static int MaxEncodedSize => ProtocolLimits.MaxHeaderBytes + ProtocolLimits.MaxCommitBytes + 16;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(3);
        writer.Write(EvidenceKind);
        WriteFields(ref writer);
    }

    /// <summary>The two fields after the kind tag (for the evidence envelope that owns the tag).</summary>
    public void WriteFields(ref MessagePackWriter writer)
    {
        Header.WriteTo(ref writer);
        Commit.WriteTo(ref writer);
    }

    /// <summary>Reads the two fields after the kind tag; the commit must be for the header.</summary>
    public static ConflictingHeader ReadFields(ref CanonicalReader reader)
    {
        var header = BlockHeader.ReadFrom(ref reader);
        long at = reader.Offset;
        var commit = Commit.ReadFrom(ref reader);
        if (commit.Height != header.Height || commit.BlockHash != header.Hash)
            throw reader.Error(DecodeError.InvalidValue, "conflicting-header evidence: the commit is not for the header", at);
        return new ConflictingHeader(header, commit);
    }

    public static ConflictingHeader ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(3, "conflicting header evidence");
        long at = reader.Offset;
        byte kind = reader.ReadByte("evidence kind");
        if (kind != EvidenceKind) throw reader.Error(DecodeError.InvalidValue, $"evidence kind {kind}, expected {EvidenceKind}", at);
        return ReadFields(ref reader);
    }
}
