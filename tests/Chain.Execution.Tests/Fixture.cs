using System.Security.Cryptography;
using System.Text;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;
using Chain.Storage;

namespace Chain.Execution.Tests;

/// <summary>Deterministic keys, models, genesis and a driver that runs blocks through consensus' entry points.</summary>
internal static class Fixture
{
    public static readonly ChainId Chain = new("exec-test");
    public const ulong GenesisTime = 1_700_000_000_000;
    public const int K = 8, N = 4;

    private static readonly Dictionary<string, PrivateKey> KeyCache = [];

    public static PrivateKey Key(string name)
    {
        lock (KeyCache)
        {
            if (!KeyCache.TryGetValue(name, out var key))
                KeyCache[name] = key = PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("chain-execution-tests/" + name)));
            return key;
        }
    }

    public static PrivateKey Validator(int i) => Key($"validator-{i}");
    public static PrivateKey User(int i) => Key($"user-{i}");

    public const int Validators = 4, Users = 6;
    public const ulong InitialBalance = 10_000_000;

    public static ExecutionParameters Params { get; } = new()
    {
        BlockGasLimit = 2_000_000,
        MaxTxBytes = 64 << 10,
        GasPrice = 1,
        TransferGas = 1_000,
        RegisterModelGas = 20_000,
        ModelByteGas = 1,
        InferGas = 500,
        InputByteGas = 2,
    };

    /// <summary>u8[1,k] × s8[k,n] with MatMulInteger; weights seeded in [-64, 63] (the admitted range).</summary>
    public static byte[] MatMulModel(int seed, int k = K, int n = N)
    {
        var random = new Random(seed);
        var weights = Enumerable.Range(0, k * n).Select(_ => (sbyte)random.Next(-64, 64)).ToArray();
        var model = new OnnxModel(9, [new OpsetImport("", 17)],
            new OnnxGraph("g",
                [new OnnxNode("mm", "MatMulInteger", "", ["x", "w"], ["y"], [])],
                [new OnnxTensor("w", Tensor.Create<sbyte>(TensorElementType.Int8, [k, n], weights))],
                [new OnnxValueInfo("x", (int)TensorElementType.UInt8, [OnnxDim.Fixed(1), OnnxDim.Fixed(k)])],
                [new OnnxValueInfo("y", (int)TensorElementType.Int32, [OnnxDim.Fixed(1), OnnxDim.Fixed(n)])],
                []),
            "chain-execution-tests", "1");
        return model.ToBytes();
    }

    /// <summary>A model admission refuses: weights outside [-64, 63].</summary>
    public static byte[] RefusedModel()
    {
        var model = new OnnxModel(9, [new OpsetImport("", 17)],
            new OnnxGraph("g",
                [new OnnxNode("mm", "MatMulInteger", "", ["x", "w"], ["y"], [])],
                [new OnnxTensor("w", Tensor.Create<sbyte>(TensorElementType.Int8, [K, N], Enumerable.Repeat((sbyte)-128, K * N).ToArray()))],
                [new OnnxValueInfo("x", (int)TensorElementType.UInt8, [OnnxDim.Fixed(1), OnnxDim.Fixed(K)])],
                [new OnnxValueInfo("y", (int)TensorElementType.Int32, [OnnxDim.Fixed(1), OnnxDim.Fixed(N)])],
                []),
            "chain-execution-tests", "1");
        return model.ToBytes();
    }

    public static byte[] GenesisModelBytes { get; } = MatMulModel(1);
    public static Hash32 GenesisModelId { get; } = Core.Hashing.DomainHash.Compute(Core.Hashing.HashDomain.Model, GenesisModelBytes);

    public static Genesis Genesis(ExecutionParameters? parameters = null) => new(
        Chain, GenesisTime,
        new ValidatorSet(Enumerable.Range(0, Validators).Select(i => new Validator(Validator(i).PublicKey, 10))),
        Enumerable.Range(0, Users).Select(i => new GenesisAccount(User(i).Address, InitialBalance)),
        [new GenesisModel("mm", User(0).Address, GenesisModelBytes)],
        parameters ?? Params);

    public static InferenceRunner Runner(int cache = 4096) => new(new InferenceEngine(enableFastPath: false), cache);

    public static ChainExecutor Executor(IKeyValueStore? store = null, IStateBackend? state = null, Genesis? genesis = null) =>
        new(genesis ?? Genesis(), store ?? new InMemoryStore(), state ?? new InMemoryStateBackend(), Runner());

    public static byte[] Input(int seed, int k = K)
    {
        var random = new Random(seed);
        var data = new byte[k];
        random.NextBytes(data);
        return Tensor.Create(TensorElementType.UInt8, [1, k], data).Encoded.ToArray();
    }

    public static SignedTransaction Transfer(PrivateKey from, ulong nonce, Address to, ulong amount, ulong fee = 1_000, ChainId? chain = null) =>
        new Transaction(chain ?? Chain, from.PublicKey, nonce, fee, new TransferBody(to, amount)).Sign(from);

    public static SignedTransaction Infer(PrivateKey from, ulong nonce, Hash32 model, byte[] input, ulong maxGas = 10_000, ulong? fee = null) =>
        new Transaction(Chain, from.PublicKey, nonce, fee ?? Math.Max(maxGas, 10_000), new InferBody(model, input, maxGas)).Sign(from);

    public static SignedTransaction Register(PrivateKey from, ulong nonce, string name, byte[] model, ulong? fee = null) =>
        new Transaction(Chain, from.PublicKey, nonce, fee ?? Gas.Add(Params.RegisterModelGas, (ulong)model.Length), new RegisterModelBody(name, model)).Sign(from);

    public static ulong TimeAt(ulong height) => GenesisTime + height * 1_000;

    public static Address ProposerAt(ulong height) => Validator((int)(height % Validators)).Address;

    /// <summary>A commit signed by every validator: it finalizes <paramref name="block"/>.</summary>
    public static Commit CommitFor(Block block) =>
        new(block.Height, new Round(0), block.Hash, Enumerable.Range(0, Validators).Select(i =>
        {
            var key = Validator(i);
            var vote = new Vote(VoteType.Precommit, block.Height, new Round(0), block.Hash, block.Header.TimeMs + 10, key.Address);
            return new CommitSignature(key.Address, vote.TimestampMs, key.Sign(vote.SignBytes(Chain)));
        }));

    public static ProposalContext Context(ChainExecutor executor, Commit? lastCommit)
    {
        ulong height = executor.Height.Value + 1;
        return new ProposalContext(TimeAt(height), ProposerAt(height), lastCommit);
    }

    /// <summary>Proposes a block from <paramref name="txs"/> (in order) and commits it; returns the proposal and its commit.</summary>
    public static (Proposal Proposal, Commit Commit) Step(ChainExecutor executor, IEnumerable<SignedTransaction> txs, Commit? lastCommit)
    {
        var proposal = executor.BuildBlock(Context(executor, lastCommit), txs);
        var commit = CommitFor(proposal.Block);
        executor.Commit(proposal.Block, commit);
        return (proposal, commit);
    }
}
