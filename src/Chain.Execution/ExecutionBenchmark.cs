using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Inference.Runtime;
using Chain.Storage;

namespace Chain.Execution;

/// <summary>One measured path and the limit it is compared with, both timed in the same run.</summary>
public sealed record BenchFigure(string Name, int Items, double Seconds, double PerSecond, string Baseline, double BaselinePerSecond, double Ratio, double Goal)
{
    public bool MeetsGoal => Ratio >= Goal;
}

public sealed record ExecutionBenchReport(string Machine, string Model, IReadOnlyList<BenchFigure> Figures);

/// <summary>
/// `chain bench execution`: block execution throughput measured against its own irreducible parts, in
/// one process, back to back, so a loaded machine slows both sides alike:
/// transfers against the Ed25519 verify limit (a validator must check every signature) — with the block's
/// signatures checked one by one in the sequential pass against one core's verify rate, and verified on every core
/// before that pass against all cores' rate, and the one against the other — and Infer
/// transactions against the raw canonical inference loop on the same inputs, with and without the
/// mempool's pre-execution cache.
/// </summary>
public static class ExecutionBenchmark
{
    private static readonly ChainId Chain = new("bench-execution");

    public static ExecutionBenchReport Run(byte[] modelBytes, string modelName, int transfers, int inferences, Action<string>? log = null)
    {
        var users = Enumerable.Range(0, 64).Select(i => Key($"user-{i}")).ToArray();
        var validators = Enumerable.Range(0, 4).Select(i => Key($"validator-{i}")).ToArray();
        var parameters = new ExecutionParameters { BlockGasLimit = 10_000_000_000 };
        var genesis = new Genesis(Chain, 1_767_225_600_000,
            new ValidatorSet(validators.Select(v => new Validator(v.PublicKey, 10))),
            users.Select(u => new GenesisAccount(u.Address, 1_000_000_000_000)),
            [new GenesisModel(modelName, users[0].Address, modelBytes)], parameters);
        var modelId = genesis.Models[0].ModelId;
        var context = new ProposalContext(genesis.GenesisTimeMs + 1000, validators[1].Address, null);
        var figures = new List<BenchFigure>();

        // Transfers vs the verify limit.
        var transferTxs = Enumerable.Range(0, transfers).Select(i =>
        {
            var from = users[i % users.Length];
            var body = new TransferBody(users[(i + 1) % users.Length].Address, 1);
            return new Transaction(Chain, from.PublicKey, (ulong)(i / users.Length), Gas.MinFee(body, parameters), body).Sign(from);
        }).ToList();
        var signBytes = transferTxs.Select(t => (t.Transaction.Sender, t.Transaction.SignBytes(), t.Signature)).ToArray();
        int cores = Environment.ProcessorCount;
        log?.Invoke($"transfers: {transfers} txs; {cores} cores");
        // Each side twice, alternately, best of two: the first run of each pays for JIT, and the machine may be busy.
        double verifySeconds = double.MaxValue, verifyAllSeconds = double.MaxValue;
        for (int round = 0; round < 2; round++)
        {
            var verifyClock = Stopwatch.StartNew();
            foreach (var (key, bytes, signature) in signBytes)
                if (!Ed25519.Verify(key, bytes, signature)) throw new InvalidOperationException("benchmark transaction does not verify");
            verifySeconds = Math.Min(verifySeconds, verifyClock.Elapsed.TotalSeconds);
            verifyClock.Restart();
            Parallel.For(0, signBytes.Length, new ParallelOptions { MaxDegreeOfParallelism = cores }, i =>
            {
                var (key, bytes, signature) = signBytes[i];
                if (!Ed25519.Verify(key, bytes, signature)) throw new InvalidOperationException("benchmark transaction does not verify");
            });
            verifyAllSeconds = Math.Min(verifyAllSeconds, verifyClock.Elapsed.TotalSeconds);
        }
        var proposer = NewExecutor(genesis, cache: 0);
        var proposal = proposer.BuildBlock(context, transferTxs);
        if (proposal.Block.Transactions.Count != transfers) throw new InvalidOperationException($"only {proposal.Block.Transactions.Count} of {transfers} transfers were included: {proposal.Skipped.FirstOrDefault()}");
        double sequentialSeconds = double.MaxValue, parallelSeconds = double.MaxValue;
        var clock = new Stopwatch();
        for (int round = 0; round < 2; round++)
        {
            foreach (int parallelism in new[] { 1, cores })
            {
                var validator = NewExecutor(genesis, cache: 0, parallelism); // fresh: nothing verified yet
                clock.Restart();
                var transferVerdict = validator.VerifyProposal(proposal.Block);
                var elapsed = clock.Elapsed.TotalSeconds;
                if (!transferVerdict.Accepted) throw new InvalidOperationException($"transfer block refused: {transferVerdict.Failure}");
                if (parallelism == 1) sequentialSeconds = Math.Min(sequentialSeconds, elapsed);
                else parallelSeconds = Math.Min(parallelSeconds, elapsed);
            }
        }
        figures.Add(Figure("transfer block re-execution (VerifyProposal), signatures one by one", transfers, sequentialSeconds,
            "Ed25519 verify, 1 core", transfers / verifySeconds, 0.5));
        figures.Add(Figure($"transfer block re-execution (VerifyProposal), signatures on {cores} cores first", transfers, parallelSeconds,
            $"Ed25519 verify, {cores} cores", transfers / verifyAllSeconds, 0.5));
        figures.Add(Figure($"transfer block re-execution, signatures on {cores} cores first", transfers, parallelSeconds,
            "the same, signatures one by one", transfers / sequentialSeconds, 1.0));

        // Infer transactions vs the raw canonical inference loop.
        var inputs = Enumerable.Range(0, inferences).Select(i => InputGenerator.Create(
            CanonicalExecutor.Load(modelBytes).Inputs, InputPattern.Random, 1000 + i)[0].Value).ToArray();
        var inferTxs = inputs.Select((input, i) =>
        {
            var from = users[i % users.Length];
            var body = new InferBody(modelId, Canonical.Encode(input), 1_000_000);
            return new Transaction(Chain, from.PublicKey, (ulong)(i / users.Length), Gas.MinFee(body, parameters), body).Sign(from);
        }).ToList();
        log?.Invoke($"inference: {inferences} Infer txs on {modelName}");
        using var raw = CanonicalExecutor.Load(modelBytes);
        var inputName = raw.Inputs[0].Name;
        foreach (var input in inputs.Take(Math.Min(20, inputs.Length))) raw.Run([new NamedTensor(inputName, input)]); // warm-up
        clock.Restart();
        foreach (var input in inputs) raw.Run([new NamedTensor(inputName, input)]);
        var rawPerSecond = inferences / clock.Elapsed.TotalSeconds;

        var inferProposer = NewExecutor(genesis, cache: 0);
        var inferBlock = inferProposer.BuildBlock(context, inferTxs);
        if (inferBlock.Block.Transactions.Count != inferences) throw new InvalidOperationException($"only {inferBlock.Block.Transactions.Count} of {inferences} Infer txs were included: {inferBlock.Skipped.FirstOrDefault()}");

        var cold = NewExecutor(genesis, cache: 0);
        clock.Restart();
        var verdict = cold.VerifyProposal(inferBlock.Block);
        var seconds = clock.Elapsed.TotalSeconds;
        if (!verdict.Accepted) throw new InvalidOperationException($"infer block refused: {verdict.Failure}");
        figures.Add(Figure("Infer block re-execution, no cache", inferences, seconds, "raw canonical inference loop", rawPerSecond, 0.9));

        // A validator whose mempool already admitted the txs: signatures verified and inference pre-executed there.
        var runner = new InferenceRunner(new InferenceEngine(enableFastPath: false), cacheCapacity: inferences * 2);
        var signatures = new TransactionSignatureCache();
        var warmStore = new InMemoryStore();
        var warm = new ChainExecutor(genesis, warmStore, JellyfishStateBackend.Open(warmStore), runner, signatures);
        var mempool = new Mempool(warm, runner, signatures: signatures);
        foreach (var tx in inferTxs)
            if (mempool.Add(tx) is { } rejection) throw new InvalidOperationException($"mempool refused a benchmark tx: {rejection}");
        mempool.PreExecutePending();
        clock.Restart();
        verdict = warm.VerifyProposal(inferBlock.Block);
        seconds = clock.Elapsed.TotalSeconds;
        if (!verdict.Accepted) throw new InvalidOperationException($"infer block refused with the cache: {verdict.Failure}");
        figures.Add(Figure("Infer block re-execution, admitted by the mempool first (cache hits)", inferences, seconds, "raw canonical inference loop", rawPerSecond, 0.9));

        return new ExecutionBenchReport($"{Environment.MachineName} ({Environment.ProcessorCount} cpus)", modelName, figures);
    }

    private static BenchFigure Figure(string name, int items, double seconds, string baseline, double baselinePerSecond, double goal)
    {
        var perSecond = items / seconds;
        return new BenchFigure(name, items, seconds, perSecond, baseline, baselinePerSecond, perSecond / baselinePerSecond, goal);
    }

    private static ChainExecutor NewExecutor(Genesis genesis, int cache, int signatureParallelism = 0)
    {
        var store = new InMemoryStore();
        var executor = new ChainExecutor(genesis, store, JellyfishStateBackend.Open(store),
            new InferenceRunner(new InferenceEngine(enableFastPath: false), cache))
        { SignatureParallelism = signatureParallelism > 0 ? signatureParallelism : Environment.ProcessorCount };
        return executor;
    }

    private static PrivateKey Key(string name) =>
        PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("chain-bench-execution/" + name)));
}
