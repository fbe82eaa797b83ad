using Chain.Consensus;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using Chain.Inference.Protobuf;
using Chain.Inference.Runtime;
using Chain.Node.Host;

namespace Chain.Fuzz;

/// <summary>A broken invariant: a decoder accepted bytes it does not re-encode, or something threw that must not.</summary>
public sealed class FuzzFinding(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One fuzz target: feeds arbitrary bytes to a decoder a peer or client can reach. Refusal with the decoder's own
/// error type is the expected outcome for junk; anything else that escapes is a finding (the fuzzer sees the crash).
/// Every accepted input must re-encode to exactly the same bytes (the project's strict-decoding rule).
/// </summary>
/// <remarks><see cref="Run"/> returns true when the input was accepted (decoded, or admitted).</remarks>
public sealed record FuzzTarget(string Name, string Description, Func<byte[], bool> Run);

public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("transaction", "a signed transaction (POST /txs, gossip)", b => RoundTrip<SignedTransaction>(b)),
        new("block", "a block (proposals, block sync)", b => RoundTrip<Block>(b)),
        new("header", "a block header (light clients, evidence)", b => RoundTrip<BlockHeader>(b)),
        new("commit", "a commit", b => RoundTrip<Commit>(b)),
        new("evidence", "an evidence item (blocks, POST /evidence)", b => RoundTrip<Evidence>(b)),
        new("consensus", "a consensus message from a peer (proposal, vote)", Consensus),
        new("sync", "a block-sync message from a peer", b => RoundTrip<SyncMessage>(b)),
        new("status", "a peer status message", b => RoundTrip<PeerStatus>(b)),
        new("gossip", "a transaction batch from a peer (Transactions channel)", b => RoundTrip<TransactionBatch>(b)),
        new("relay", "a transaction relay message from a peer (announcement, request, requested bodies, neighbours)", b => RoundTrip<TransactionRelayMessage>(b)),
        new("parts", "a compact proposal or block parts request/response from a peer", b => RoundTrip<BlockPartsMessage>(b)),
        new("tensor", "a canonical tensor (inference inputs)", b => RoundTrip<Tensor>(b)),
        new("onnx", "an ONNX model through the consensus reader only", Onnx),
        new("model", "an ONNX model through admission, then canonical execution of whatever is admitted", Model),
    ];

    public static FuzzTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"unknown fuzz target '{name}' (known: {string.Join(", ", All.Select(t => t.Name))})");

    private static bool RoundTrip<T>(byte[] bytes) where T : ICanonicalObject<T>
    {
        if (!Canonical.TryDecode<T>(bytes, out var value, out _)) return false;
        var again = Canonical.Encode(value!).ToArray();
        if (!again.AsSpan().SequenceEqual(bytes))
            throw new FuzzFinding($"{T.KindName}: {bytes.Length} bytes decoded but re-encode to {again.Length} different bytes");
        return true;
    }

    private static bool Consensus(byte[] bytes)
    {
        if (!ConsensusMessages.TryDecode(bytes, out var message, out _)) return false;
        var again = ConsensusMessages.Encode(message!);
        if (!again.AsSpan().SequenceEqual(bytes))
            throw new FuzzFinding($"consensus message: {bytes.Length} bytes decoded but re-encode differently");
        return true;
    }

    private static bool Onnx(byte[] bytes)
    {
        try
        {
            OnnxModel.Parse(bytes);
            return true;
        }
        catch (OnnxFormatException)
        {
            return false;
        }
    }

    // Admission is a proof: whatever it admits must run on every valid input (here: zeros, extremes and random
    // values of the declared shapes) without throwing, within the arena it planned.
    private static bool Model(byte[] bytes)
    {
        var report = ModelAdmission.Check(bytes);
        if (!report.Admitted) return false;
        using var executor = CanonicalExecutor.Load(bytes);
        foreach (var pattern in Enum.GetValues<InputPattern>())
        {
            var inputs = InputGenerator.Create(executor.Inputs, pattern, seed: 1);
            try
            {
                executor.Run(inputs);
            }
            catch (Exception e)
            {
                throw new FuzzFinding($"admitted model {report.ModelId} failed on {pattern} inputs: {e.GetType().Name}: {e.Message}", e);
            }
        }
        return true;
    }
}
