using System.Security.Cryptography;
using System.Text;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Merkle;
using Chain.Core.Protocol;
using Chain.Light;

namespace Chain.Testing.LightChain;

/// <summary>
/// What chain <see cref="LightChain"/> builds: <paramref name="Heights"/> headers; <paramref name="ValidatorCount"/>
/// validators whose window slides by one key every <paramref name="RotateEvery"/> heights (after ValidatorCount
/// rotations the set has turned over completely); a transfer with its receipt at each of <paramref name="TransferHeights"/>.
/// Keys derive from <paramref name="Seed"/>.
/// </summary>
public sealed record LightChainSpec(string ChainId, int Heights, int ValidatorCount, int RotateEvery, int Seed,
    IReadOnlyList<ulong>? TransferHeights = null, ulong GenesisTimeMs = LightChainSpec.DefaultGenesisTimeMs, ulong BlockIntervalMs = 1000)
{
    public const ulong DefaultGenesisTimeMs = 1_767_225_600_000;
}

/// <summary>
/// A real signed chain for light-client tests: real Ed25519 keys, headers that chain by hash and bind their set and the
/// next (validator-set changes follow a sliding window of keys), and real commits by every validator of the height,
/// signed lazily (only for heights asked) so 10,000 heights stay cheap. Headers are built eagerly; because commits are
/// lazy, <c>lastCommitHash</c> is zero (bisection never reads it, and nothing here claims the chain recorded a commit).
/// <see cref="Fork"/> gives a chain with the same keys that diverges from a height: the same validators sign both, a
/// light-client attack.
/// </summary>
public sealed class LightChain
{
    private readonly PrivateKey[] _keys;
    private readonly Dictionary<int, ValidatorSet> _setsByEpoch = [];
    private readonly BlockHeader[] _headers;
    private readonly Dictionary<ulong, Commit> _commits = [];
    private readonly Dictionary<ulong, (SignedTransaction Tx, Receipt Receipt)> _transfers = [];
    private readonly string _branch;
    private readonly ulong _forkHeight;

    public LightChain(LightChainSpec spec) : this(spec, "", ulong.MaxValue)
    {
    }

    private LightChain(LightChainSpec spec, string branch, ulong forkHeight)
    {
        Spec = spec ?? throw new ArgumentNullException(nameof(spec));
        if (spec.Heights < 2 || spec.ValidatorCount < 1 || spec.RotateEvery < 1) throw new ArgumentOutOfRangeException(nameof(spec), "need 2+ heights, 1+ validators, rotation every 1+ heights");
        _branch = branch;
        _forkHeight = forkHeight;
        ChainId = new ChainId(spec.ChainId);
        _keys = new PrivateKey[spec.ValidatorCount + (spec.Heights / spec.RotateEvery) + 2];
        for (int i = 0; i < _keys.Length; i++) _keys[i] = PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes($"light-chain/{spec.Seed}/{i}")));
        Sender = PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes($"light-chain/{spec.Seed}/sender")));
        foreach (var h in spec.TransferHeights ?? [])
        {
            var tx = new Transaction(ChainId, Sender.PublicKey, h, 1000, new TransferBody(_keys[0].Address, 1)).Sign(Sender);
            _transfers[h] = (tx, new Receipt(tx.Hash, ReceiptStatus.Success, 1000));
        }
        _headers = new BlockHeader[spec.Heights];
        for (ulong h = 1; h <= (ulong)spec.Heights; h++) _headers[h - 1] = BuildHeader(h);
    }

    public LightChainSpec Spec { get; }
    public ChainId ChainId { get; }
    public ulong Heights => (ulong)Spec.Heights;
    public PrivateKey Sender { get; }

    /// <summary>Commits signed so far (lazy signing at work).</summary>
    public int CommitsSigned
    {
        get { lock (_commits) return _commits.Count; }
    }

    /// <summary>Heights [<paramref name="fromHeight"/>, end] get other state roots (hence other hashes); the keys and sets stay.</summary>
    public LightChain Fork(ulong fromHeight, string branch) => new(Spec, branch, fromHeight);

    public BlockHeader Header(ulong height) => _headers[Index(height)];

    public ValidatorSet Validators(ulong height)
    {
        int epoch = (int)((height - 1) / (ulong)Spec.RotateEvery);
        lock (_setsByEpoch) return _setsByEpoch.TryGetValue(epoch, out var set) ? set : _setsByEpoch[epoch] = NewSet(epoch);
    }

    private ValidatorSet NewSet(int epoch)
    {
        // Powers 10, 15, 20 by key index, so that overlap is counted in power, not heads.
        return new ValidatorSet(Enumerable.Range(epoch, Spec.ValidatorCount).Select(i => new Validator(_keys[i].PublicKey, 10 + (ulong)(i % 3) * 5)));
    }

    /// <summary>The commit of height <paramref name="height"/>, signed by every validator of the height on first request.</summary>
    public Commit Commit(ulong height)
    {
        var header = Header(height);
        lock (_commits) return _commits.TryGetValue(height, out var signed) ? signed : _commits[height] = Sign(header);
    }

    private Commit Sign(BlockHeader header)
    {
        var signatures = new List<CommitSignature>();
        foreach (var v in Validators(header.Height.Value).Validators)
        {
            var key = _keys.First(k => k.PublicKey == v.PublicKey);
            ulong time = header.TimeMs + 1;
            var vote = new Vote(VoteType.Precommit, header.Height, new Round(0), header.Hash, time, key.Address);
            signatures.Add(new CommitSignature(key.Address, time, key.Sign(vote.SignBytes(ChainId))));
        }
        return new Commit(header.Height, new Round(0), header.Hash, signatures);
    }

    public LightBlock LightBlock(ulong height) => new(Header(height), Commit(height), Validators(height));

    public (SignedTransaction Tx, Receipt Receipt)? TransferAt(ulong height) => _transfers.TryGetValue(height, out var t) ? t : null;

    public IEnumerable<(ulong Height, SignedTransaction Tx, Receipt Receipt)> Transfers => _transfers.Select(p => (p.Key, p.Value.Tx, p.Value.Receipt));

    /// <summary>A genesis file (docs/protocol.md) whose validators are height 1's.</summary>
    public string GenesisJson()
    {
        var validators = string.Join(",", Validators(1).Validators.Select(v => $$"""{ "public_key": "{{v.PublicKey}}", "power": {{v.Power}} }"""));
        return $$"""
            { "chain_id": "{{Spec.ChainId}}", "genesis_time_ms": {{Spec.GenesisTimeMs}}, "validators": [{{validators}}],
              "accounts": [], "models": [], "params": { "block_gas_limit": 100000000, "max_tx_bytes": 4198400, "gas_price": 1, "transfer_gas": 1000,
              "register_model_gas": 100000, "model_byte_gas": 1, "infer_gas": 1000, "input_byte_gas": 1 } }
            """;
    }

    /// <summary>Block time of <paramref name="height"/>: genesis time plus one interval per height.</summary>
    public ulong TimeMs(ulong height) => Spec.GenesisTimeMs + height * Spec.BlockIntervalMs;

    private int Index(ulong height) =>
        height >= 1 && height <= Heights ? (int)(height - 1) : throw new ArgumentOutOfRangeException(nameof(height), $"the chain has heights 1..{Heights}, not {height}");

    private BlockHeader BuildHeader(ulong h)
    {
        var (txRoot, receiptsRoot) = _transfers.TryGetValue(h, out var t)
            ? (MerkleTree.ComputeRoot([t.Tx.Encoded]), MerkleTree.ComputeRoot([t.Receipt.Encoded]))
            : (MerkleTree.EmptyRoot, MerkleTree.EmptyRoot);
        string stateTag = h >= _forkHeight ? $"state/{_branch}/{h}" : $"state/{h}";
        return new BlockHeader(ChainId, new Height(h), TimeMs(h),
            h == 1 ? Hash32.Zero : _headers[h - 2].Hash, Hash32.Zero,
            txRoot, receiptsRoot, new Hash32(SHA256.HashData(Encoding.UTF8.GetBytes(stateTag))),
            Validators(h).Hash, Validators(h + 1).Hash, MerkleTree.EmptyRoot, Validators(h).Validators[0].Address);
    }
}
