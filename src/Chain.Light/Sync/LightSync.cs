using System.Globalization;
using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Light.Sync;

/// <summary>
/// Re-executes an inference locally (the CLI implements it with Chain.Inference's canonical executor, which stays out of
/// Chain.Light): the hash of the output tensor the model's code gives for the transaction's input.
/// </summary>
public interface IInferenceRerunner
{
    Hash32 OutputHash(ReadOnlyMemory<byte> modelCode, InferBody inference);
}

/// <summary>What one sync verified: the trace of heights (the trusted start first), the validator sets crossed, the witnesses.</summary>
public sealed record SyncResult(LightBlock Target, IReadOnlyList<ulong> Trace, int ValidatorSetsCrossed, IReadOnlyList<WitnessReport> Witnesses, bool AlreadyTrusted);

/// <summary>A header verified by <see cref="LightSync.VerifyHeightAsync"/>: forward (bisection, <see cref="Sync"/> set) or backward (hash links).</summary>
public sealed record VerifiedHeader(BlockHeader Header, SyncResult? Sync, int BackwardSteps);

/// <summary>A transaction and receipt proven against a verified header, and the local re-run's verdict (null: not re-run).</summary>
public sealed record VerifiedReceipt(LightTransaction Transaction, VerifiedHeader Proof, Hash32? RerunOutputHash, bool? RerunMatches);

/// <summary>
/// The light client (docs/light-client.md): a trusted store, a primary it fetches from, witnesses it cross-checks,
/// and a clock. Every header it returns was verified from a stored trusted block within the trusting period.
/// </summary>
public sealed class LightSync(ILightSource primary, IReadOnlyList<ILightSource> witnesses, LightStore store, TrustOptions options, TimeProvider clock,
    VerificationMode mode = VerificationMode.Skipping)
{
    public ILightSource Primary { get; } = primary ?? throw new ArgumentNullException(nameof(primary));
    public IReadOnlyList<ILightSource> Witnesses { get; } = witnesses ?? throw new ArgumentNullException(nameof(witnesses));
    public LightStore Store { get; } = store ?? throw new ArgumentNullException(nameof(store));
    public TrustOptions Options { get; } = options?.Problem() is { } problem ? throw new ArgumentException(problem, nameof(options)) : options!;

    /// <summary>
    /// Trust height 1 as the genesis says: its header is for the genesis chain, names the genesis validators, is not
    /// before the genesis time, and more than 2/3 of the genesis validators signed it.
    /// </summary>
    public async Task<LightBlock> InitFromGenesisAsync(GenesisTrust genesis, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(genesis);
        var block = await Primary.LightBlockAsync(1, ct).ConfigureAwait(false);
        var h = block.Header;
        if (h.ChainId != genesis.ChainId) throw Refused(block, Failure("chainId", genesis.ChainId.ToString(), h.ChainId.ToString(), $"header 1 is for chain {h.ChainId}, the genesis is {genesis.ChainId}"));
        if (h.ValidatorsHash != genesis.Validators.Hash)
            throw Refused(block, Failure("validatorsHash", genesis.Validators.Hash.ToString(), h.ValidatorsHash.ToString(), "header 1 does not name the genesis validators"));
        if (h.TimeMs < genesis.GenesisTimeMs)
            throw Refused(block, Failure("timeMs", $">= {genesis.GenesisTimeMs}", h.TimeMs.ToString(CultureInfo.InvariantCulture), "header 1 is before the genesis time"));
        await CrossCheckRootAsync(block, ct).ConfigureAwait(false);
        return Trust(new LightBlock(h, block.Commit, genesis.Validators));
    }

    /// <summary>Trust the header at <paramref name="height"/> whose hash the user vouches for (<c>--trust-height/--trust-hash</c>).</summary>
    public async Task<LightBlock> InitFromHashAsync(ulong height, Hash32 hash, CancellationToken ct = default)
    {
        var block = await Primary.LightBlockAsync(height, ct).ConfigureAwait(false);
        if (block.Header.Hash != hash)
            throw Refused(block, Failure("hash", hash.ToString(), block.Header.Hash.ToString(), $"header {height} hashes to {block.Header.Hash}, not the trusted {hash}"));
        await CrossCheckRootAsync(block, ct).ConfigureAwait(false);
        return Trust(block);
    }

    /// <summary>Every witness that answers must serve the same root header: with no common root there is nothing to detect forks from.</summary>
    private async Task CrossCheckRootAsync(LightBlock block, CancellationToken ct)
    {
        foreach (var witness in Witnesses)
        {
            BlockHeader theirs;
            try { theirs = await witness.HeaderAsync(block.Height, ct).ConfigureAwait(false); }
            catch (LightClientException) { continue; } // unresponsive: skipped, as in sync
            if (theirs.Hash != block.Header.Hash)
                throw new LightClientException($"witness {witness.Name} serves header {theirs.Hash} at {block.Height}, the primary {block.Header.Hash}: refusing to trust either",
                    Failure("hash", block.Header.Hash.ToString(), theirs.Hash.ToString(), "witness disagrees on the trusted root"));
        }
    }

    /// <summary>
    /// Verifies up to <paramref name="height"/> (null: the primary's latest) from the latest stored block, cross-checks the
    /// result against the witnesses, and stores the trace.
    /// </summary>
    public async Task<SyncResult> SyncAsync(ulong? height = null, CancellationToken ct = default)
    {
        if (Store.Latest() is null) throw new LightClientException($"the light store '{Store.Directory}' is empty: run `chain light init` first");
        ulong target = height ?? await Primary.LatestHeightAsync(ct).ConfigureAwait(false);
        if (target == 0) throw new ArgumentOutOfRangeException(nameof(height), "heights start at 1");
        if (Store.Load(target) is { } stored) return new SyncResult(stored, [target], 0, [], AlreadyTrusted: true);
        var below = Store.LatestAtOrBelow(target)
            ?? throw new LightClientException($"height {target} is below the lowest trusted height {Store.Heights()[0]}: sync verifies forward only");
        return await ForwardAsync(below, target, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The header at <paramref name="height"/>, verified: stored; else forward from the highest stored block below it
    /// (bisection plus witnesses); else backward from the lowest stored block above it, each header's hash being the
    /// <c>lastBlockHash</c> of the one above (CometBFT's backwards verification).
    /// </summary>
    public async Task<VerifiedHeader> VerifyHeightAsync(ulong height, CancellationToken ct = default)
    {
        if (height == 0) throw new ArgumentOutOfRangeException(nameof(height), "heights start at 1");
        if (Store.Load(height) is { } stored) return new VerifiedHeader(stored.Header, null, 0);
        if (Store.LatestAtOrBelow(height) is { } below)
        {
            var result = await ForwardAsync(below, height, ct).ConfigureAwait(false);
            return new VerifiedHeader(result.Target.Header, result, 0);
        }
        var above = Store.LowestAbove(height) ?? throw new LightClientException($"the light store '{Store.Directory}' is empty: run `chain light init` first");
        if (LightVerifier.Expired(above.Header, Options, Bisection.NowMs(clock)) is { } expired) throw new LightClientException(expired.Message, expired);
        var upper = above.Header;
        int steps = 0;
        for (ulong h = above.Height - 1; h >= height; h--)
        {
            var header = await Primary.HeaderAsync(h, ct).ConfigureAwait(false);
            steps++;
            if (header.Hash != upper.LastBlockHash)
                throw new LightClientException($"{Primary.Name}: header {h} hashes to {header.Hash}, header {upper.Height} links to {upper.LastBlockHash}",
                    new VerifyFailure(VerifyFailureKind.BadHeader, "backward link broken", Field: "lastBlockHash", Expected: upper.LastBlockHash.ToString(), Actual: header.Hash.ToString()));
            upper = header;
        }
        return new VerifiedHeader(upper, null, steps);
    }

    /// <summary>A transaction and its receipt, proven against a verified header; with <paramref name="rerunner"/> an inference is re-executed locally.</summary>
    public async Task<VerifiedReceipt> ReceiptAsync(Hash32 transactionHash, IInferenceRerunner? rerunner = null, CancellationToken ct = default)
    {
        var served = await Primary.TransactionAsync(transactionHash, ct).ConfigureAwait(false);
        var proof = await VerifyHeightAsync(served.Height, ct).ConfigureAwait(false);
        if (LightVerifier.VerifyTransaction(served, transactionHash, proof.Header, out var tx, out var receipt) is { } failure)
            throw new LightClientException($"{Primary.Name}: {failure.Message}", failure);
        var transaction = new LightTransaction(served, proof.Header, tx!, receipt!);
        if (rerunner is null) return new VerifiedReceipt(transaction, proof, null, null);
        if (tx!.Transaction.Body is not InferBody infer || receipt!.Inference is not { } inference)
            throw new LightClientException($"transaction {transactionHash} is not an inference with a result: nothing to re-run");
        var bytes = await ModelCodeAssembly.FetchAsync(infer.ModelId, (chunk, c) => Primary.ModelCodeAsync(infer.ModelId, chunk, c),
            async (proof, c) =>
            {
                if (proof.Height == 0) throw new LightClientException("the node proves the model against the genesis state (height 0), which no header anchors");
                return (await VerifyHeightAsync(proof.Height, c).ConfigureAwait(false)).Header.StateRoot;
            },
            bad => new LightClientException($"{Primary.Name}: {bad.Message}", bad), ct: ct).ConfigureAwait(false);
        var local = rerunner.OutputHash(bytes, infer);
        return new VerifiedReceipt(transaction, proof, local, local == inference.OutputHash);
    }

    private async Task<SyncResult> ForwardAsync(LightBlock trusted, ulong target, CancellationToken ct)
    {
        var trace = await Bisection.VerifyAsync(Primary, trusted, target, Options, clock, mode, ct).ConfigureAwait(false);
        var reports = await ForkDetector.CheckAsync(Primary, Witnesses, trace, Options, clock, ct).ConfigureAwait(false);
        foreach (var block in trace.Skip(1)) Store.Save(block);
        int crossed = 0;
        for (int i = 1; i < trace.Count; i++)
            if (trace[i].Header.ValidatorsHash != trace[i - 1].Header.ValidatorsHash) crossed++;
        return new SyncResult(trace[^1], trace.Select(b => b.Height).ToArray(), crossed, reports, AlreadyTrusted: false);
    }

    private LightBlock Trust(LightBlock block)
    {
        if (block.Inconsistency() is { } why)
            throw Refused(block, Failure("validators", block.Header.ValidatorsHash.ToString(), block.Validators.Hash.ToString(), why));
        if (LightVerifier.Expired(block.Header, Options, Bisection.NowMs(clock)) is { } expired) throw Refused(block, expired);
        var h = block.Header;
        if (block.Commit.Verify(h.ChainId, block.Validators, h.Height, h.Hash) is { } weak) throw Refused(block, weak);
        Store.Save(block);
        return block;
    }

    private LightClientException Refused(LightBlock block, VerifyFailure failure) =>
        new($"{Primary.Name}: light block {block.Height} refused: {failure.Message}", failure);

    private static VerifyFailure Failure(string field, string expected, string actual, string message) =>
        new(VerifyFailureKind.BadHeader, message, Field: field, Expected: expected, Actual: actual);
}
