using Chain.Consensus;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Network.Tcp;
using Chain.Node.Host;

namespace Chain.Fuzz;

/// <summary>Valid inputs for each target, the starting corpus mutations work from (deterministic keys and values).</summary>
public static class Seeds
{
    private static readonly ChainId Chain = new("fuzz-chain");

    public static IReadOnlyList<byte[]> For(string target, string? repositoryRoot = null) => target switch
    {
        "transaction" => Transactions().Select(t => t.Encoded.ToArray()).ToList(),
        "block" => [Block(1).Encoded.ToArray(), Block(2).Encoded.ToArray()],
        "header" => [Block(2).Header.Encoded.ToArray()],
        "commit" => [CommitFor(Block(1)).Encoded.ToArray()],
        "evidence" => [DuplicateVote().Encoded.ToArray(), new ConflictingHeader(Block(2).Header, CommitFor(Block(2))).Encoded.ToArray()],
        "consensus" =>
        [
            ConsensusMessages.Encode(new VoteReceived(Vote(VoteType.Prevote, Block(1).Hash))),
            ConsensusMessages.Encode(new ProposalReceived(new Proposal(new Height(1), new Round(0), null, Block(1).Hash, 1, Key(0).Address).Sign(Chain, Key(0)), Block(1))),
        ],
        "sync" => [new SyncRequest(new Height(1), 8).Encoded.ToArray(), new SyncResponse([new SyncedBlock(Block(1), CommitFor(Block(1)))]).Encoded.ToArray()],
        "status" => [new PeerStatus(new Height(42)).Encoded.ToArray()],
        "gossip" => [new TransactionBatch(Transactions().ToList()).Encoded.ToArray()],
        "relay" =>
        [
            new HashAnnouncement(Transactions().Select(t => t.Hash).ToList()).Encoded.ToArray(),
            new HashRequest(Transactions().Select(t => t.Hash).Take(1).ToList()).Encoded.ToArray(),
            new RequestedBodies(new TransactionBatch(Transactions().ToList())).Encoded.ToArray(),
            new PeerNeighbours([Key(0).PublicKey, Key(1).PublicKey]).Encoded.ToArray(),
        ],
        "parts" =>
        [
            CompactProposal.Of(new ProposalReceived(new Proposal(new Height(2), new Round(0), null, Block(2).Hash, 1, Key(0).Address).Sign(Chain, Key(0)), Block(2))).Encoded.ToArray(),
            new PartsRequest(new Height(2), Block(2).Hash, Transactions().Select(t => t.Hash).ToList()).Encoded.ToArray(),
            new PartsResponse(new Height(2), Block(2).Hash, Transactions().ToList()).Encoded.ToArray(),
        ],
        "handshake" => Hellos(),
        "tensor" => [Tensor.Create<sbyte>(TensorElementType.Int8, [1, 4], [1, -2, 3, -4]).Encoded.ToArray(), Tensor.Zeros(TensorElementType.UInt8, [2, 2]).Encoded.ToArray()],
        "onnx" or "model" => Models(repositoryRoot),
        _ => throw new ArgumentException($"no seeds for target '{target}'"),
    };

    private static PrivateKey Key(int i) => PrivateKey.FromSeed(Enumerable.Repeat((byte)(i + 1), 32).ToArray());

    private static ValidatorSet Validators => new([new Validator(Key(0).PublicKey, 10), new Validator(Key(1).PublicKey, 5)]);

    private static IEnumerable<SignedTransaction> Transactions()
    {
        var sender = Key(3);
        yield return new Transaction(Chain, sender.PublicKey, 0, 1000, new TransferBody(Key(4).Address, 5)).Sign(sender);
        yield return new Transaction(Chain, sender.PublicKey, 1, 1000, new InferBody(Hash32.Zero, [1, 2, 3], 100_000)).Sign(sender);
        yield return new Transaction(Chain, sender.PublicKey, 2, 1000, new RegisterModelBody("m", [8, 1, 18, 0])).Sign(sender);
    }

    private static Block Block(ulong height)
    {
        var txs = Transactions().ToList();
        var parent = height == 1 ? null : Block(height - 1);
        var last = parent is null ? null : CommitFor(parent);
        var header = new BlockHeader(Chain, new Height(height), 1_000 + height, parent?.Hash ?? Hash32.Zero, last?.Hash ?? Hash32.Zero,
            Core.Protocol.Block.ComputeTransactionsRoot(txs), Hash32.Zero, Hash32.Zero, Validators.Hash, Validators.Hash,
            Core.Protocol.Block.ComputeEvidenceRoot([]), Key(0).Address);
        return new Block(header, txs, last);
    }

    private static Commit CommitFor(Block block) => new(block.Height, new Round(0), block.Hash,
        new[] { 0, 1 }.Select(i =>
        {
            var vote = new Vote(VoteType.Precommit, block.Height, new Round(0), block.Hash, 7, Key(i).Address).Sign(Chain, Key(i));
            return new CommitSignature(Key(i).Address, 7, vote.Signature);
        }));

    private static SignedVote Vote(VoteType type, Hash32? hash) => new Vote(type, new Height(1), new Round(0), hash, 5, Key(0).Address).Sign(Chain, Key(0));

    private static DuplicateVoteEvidence DuplicateVote() => new(Vote(VoteType.Prevote, Block(1).Hash), Vote(VoteType.Prevote, null));

    private static List<byte[]> Models(string? root)
    {
        var dir = Path.Combine(root ?? RepositoryRoot(), "genesis", "models");
        var models = Directory.EnumerateFiles(dir, "*.onnx").Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
        if (models.Count == 0) throw new InvalidOperationException($"no .onnx seed models in {dir}");
        return models;
    }

    /// <summary>The repository root: the nearest directory above the working directory or the program that has Chain.sln.</summary>
    public static string RepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Chain.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root (Chain.sln) above the working directory");
    }

    // A good hello for the target's chain, alone and followed by an authentication frame a stranger could send (a
    // length and a ciphertext that cannot authenticate under the fresh keys).
    private static List<byte[]> Hellos()
    {
        byte[] hello = [.. SecretConnection.Prologue(FuzzTargets.HandshakePeer.Chain), .. Enumerable.Range(1, SecretConnection.EphemeralKeyBytes).Select(i => (byte)(i * 9))];
        byte[] frame = new byte[4 + 96 + 16];
        frame[3] = 96 + 16;
        for (int i = 4; i < frame.Length; i++) frame[i] = (byte)i;
        return [hello, [.. hello, .. frame]];
    }
}
