using Chain.Consensus;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using Chain.Inference.Protobuf;
using Chain.Inference.Runtime;
using Chain.Network.Tcp;
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
        new("handshake", "a stranger's hello and authentication frame (P2P handshake, before any key is proven)", Handshake),
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

    // Built on first use, inside the fuzz loop: instrumented code (Chain.Core) must not run before afl's shared memory
    // is mapped, as a static initializer of FuzzTargets would.
    internal static class HandshakePeer
    {
        public static readonly ChainId Chain = new("fuzz-chain");
        public static readonly PrivateKey Key = PrivateKey.FromSeed(Enumerable.Repeat((byte)7, 32).ToArray());
    }

    // The bytes are everything a stranger sends before proving a key: the hello, then the authentication frame. The
    // hello parser is what accepts (true); the whole exchange must end in a HandshakeException, since completing it
    // would mean a key proven without a signature over this handshake's fresh transcript.
    private static bool Handshake(byte[] bytes)
    {
        bool helloAccepted;
        try
        {
            SecretConnection.ParseHello(bytes, HandshakePeer.Chain);
            helloAccepted = true;
        }
        catch (HandshakeException)
        {
            helloAccepted = false;
        }
        var stream = new ScriptedPeerStream(bytes);
        try
        {
            var connection = SecretConnection.EstablishAsync(stream, HandshakePeer.Chain, HandshakePeer.Key, null, TimeSpan.FromSeconds(30),
                TimeProvider.System, CancellationToken.None).GetAwaiter().GetResult();
            connection.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw new FuzzFinding($"a handshake from {bytes.Length} scripted bytes completed: a key was accepted without proof");
        }
        catch (HandshakeException)
        {
        }
        return helloAccepted;
    }
}

/// <summary>A peer that sends a fixed script and then closes; what we write to it is discarded.</summary>
internal sealed class ScriptedPeerStream(byte[] script) : Stream
{
    private int _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }

    public override int Read(byte[] buffer, int offset, int count)
    {
        int n = Math.Min(count, script.Length - _position);
        script.AsSpan(_position, n).CopyTo(buffer.AsSpan(offset, n));
        _position += n;
        return n;
    }

    public override void Write(byte[] buffer, int offset, int count) { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
