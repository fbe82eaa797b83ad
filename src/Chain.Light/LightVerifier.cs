using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Hashing;
using Chain.Core.Merkle;
using Chain.Core.Protocol;
using Chain.Core.State;
using Chain.Rpc;

namespace Chain.Light;

/// <summary>
/// What a light client checks, as pure functions over decoded objects (no I/O): a header against a commit by a trusted
/// validator set, two headers chained by the commit the chain recorded, a transaction and its receipt against a
/// header's roots, and a state value against a header's state root. Each returns null when the check passes and a
/// <see cref="VerifyFailure"/> (field, expected, actual) otherwise. <see cref="LightClient"/> and Chain.Rpc's
/// <c>RpcClient</c> both use these: one rule, one place.
/// </summary>
public static partial class LightVerifier
{
    /// <summary>
    /// <paramref name="header"/> is final under <paramref name="trusted"/>: it is on <paramref name="chainId"/>, names
    /// the trusted set as its validators, and <paramref name="commit"/> carries more than 2/3 of the set's power
    /// for its hash at its height (<see cref="Commit.Verify(ChainId, ValidatorSet, Height, Hash32, Core.Crypto.ISignatureChecker?)"/>).
    /// </summary>
    public static VerifyFailure? VerifyHeader(BlockHeader header, Commit commit, ChainId chainId, ValidatorSet trusted)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(commit);
        ArgumentNullException.ThrowIfNull(trusted);
        if (header.ChainId != chainId)
            return Header($"header {header.Height} is for chain {header.ChainId}, expected {chainId}", "chainId", chainId.ToString(), header.ChainId.ToString());
        if (header.ValidatorsHash != trusted.Hash)
            return Header($"header {header.Height} names validators {header.ValidatorsHash}, the trusted set is {trusted.Hash}",
                "validatorsHash", trusted.Hash.ToString(), header.ValidatorsHash.ToString());
        return commit.Verify(chainId, trusted, header.Height, header.Hash);
    }

    /// <summary>
    /// <paramref name="next"/> follows <paramref name="previous"/>: it is the next height, links to its hash, and binds
    /// <paramref name="recordedCommit"/> (the commit it carries for <paramref name="previous"/>, served by
    /// <c>/commits/{h}</c> with <c>canonical: true</c>) through <c>lastCommitHash</c>, and that commit is for
    /// <paramref name="previous"/>. The signatures are checked separately (<see cref="VerifyHeader"/>).
    /// </summary>
    public static VerifyFailure? VerifyChaining(BlockHeader previous, Commit recordedCommit, BlockHeader next)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(recordedCommit);
        ArgumentNullException.ThrowIfNull(next);
        if (next.Height.Value != previous.Height.Value + 1)
            return Header($"header {next.Height} does not follow {previous.Height}", "height", (previous.Height.Value + 1).ToString(), next.Height.ToString());
        if (next.LastBlockHash != previous.Hash)
            return Header($"header {next.Height} links to {next.LastBlockHash}, header {previous.Height} is {previous.Hash}",
                "lastBlockHash", previous.Hash.ToString(), next.LastBlockHash.ToString());
        if (recordedCommit.Height != previous.Height || recordedCommit.BlockHash != previous.Hash)
            return Header($"the commit is for block {recordedCommit.BlockHash} at {recordedCommit.Height}, not {previous.Hash} at {previous.Height}",
                "commit.blockHash", previous.Hash.ToString(), recordedCommit.BlockHash.ToString());
        if (next.LastCommitHash != recordedCommit.Hash)
            return Header($"header {next.Height} binds last commit {next.LastCommitHash}, the served commit for {previous.Height} hashes to {recordedCommit.Hash}",
                "lastCommitHash", recordedCommit.Hash.ToString(), next.LastCommitHash.ToString());
        return null;
    }

    /// <summary>
    /// The served transaction and receipt are leaf <c>Index</c> of <paramref name="header"/>'s transactions and
    /// receipts roots, the transaction hashes to <paramref name="expectedHash"/>, and the receipt is for it.
    /// </summary>
    public static VerifyFailure? VerifyTransaction(TransactionLookupResponse served, Hash32 expectedHash, BlockHeader header,
        out SignedTransaction? transaction, out Receipt? receipt)
    {
        ArgumentNullException.ThrowIfNull(served);
        ArgumentNullException.ThrowIfNull(header);
        transaction = null;
        receipt = null;
        if (!TryBase64(served.RawTransaction, out var rawTx)) return Proof("the served transaction is not base64", "rawTransaction");
        if (!TryBase64(served.RawReceipt, out var rawReceipt)) return Proof("the served receipt is not base64", "rawReceipt");
        if (!TryBase64(served.TransactionProof, out var rawTxProof)) return Proof("the transaction proof is not base64", "transactionProof");
        if (!TryBase64(served.ReceiptProof, out var rawReceiptProof)) return Proof("the receipt proof is not base64", "receiptProof");
        if (!Canonical.TryDecode<SignedTransaction>(rawTx, out var tx, out var e1)) return Proof($"transaction: {e1!.Message}", "rawTransaction");
        if (!Canonical.TryDecode<Receipt>(rawReceipt, out var r, out var e2)) return Proof($"receipt: {e2!.Message}", "rawReceipt");
        if (!Canonical.TryDecode<InclusionProof>(rawTxProof, out var txProof, out var e3)) return Proof($"transaction proof: {e3!.Message}", "transactionProof");
        if (!Canonical.TryDecode<InclusionProof>(rawReceiptProof, out var receiptProof, out var e4)) return Proof($"receipt proof: {e4!.Message}", "receiptProof");
        if (tx!.Hash != expectedHash)
            return Proof($"served transaction hashes to {tx.Hash}, not {expectedHash}", "transaction.hash", expectedHash.ToString(), tx.Hash.ToString());
        if (r!.TransactionHash != tx.Hash)
            return Proof("the receipt is for another transaction", "receipt.transactionHash", tx.Hash.ToString(), r.TransactionHash.ToString());
        if (header.Height.Value != served.Height)
            return Proof($"header is for height {header.Height}, the transaction is at {served.Height}", "height", served.Height.ToString(), header.Height.ToString());
        if (txProof!.LeafIndex != (ulong)served.Index || receiptProof!.LeafIndex != (ulong)served.Index)
            return Proof("the proofs are for another position in the block", "index", served.Index.ToString(), $"{txProof.LeafIndex}/{receiptProof!.LeafIndex}");
        if (!txProof.Verify(header.TransactionsRoot, rawTx))
            return Proof($"transaction proof does not verify against transactions root {header.TransactionsRoot}", "transactionProof", header.TransactionsRoot.ToString());
        if (!receiptProof.Verify(header.ReceiptsRoot, rawReceipt))
            return Proof($"receipt proof does not verify against receipts root {header.ReceiptsRoot}", "receiptProof", header.ReceiptsRoot.ToString());
        transaction = tx;
        receipt = r;
        return null;
    }

    /// <summary>
    /// <paramref name="served"/> proves that <paramref name="expectedKey"/> holds the served value (or nothing) under
    /// <paramref name="stateRoot"/> (docs/state.md §4); <paramref name="value"/> is the proven value (null: absent).
    /// </summary>
    public static VerifyFailure? VerifyState(StateProofJson served, Hash32 expectedKey, Hash32 stateRoot, out byte[]? value)
    {
        ArgumentNullException.ThrowIfNull(served);
        value = null;
        if (!Hash32.TryParse(served.StateKey, out var key) || key != expectedKey)
            return Proof($"proof is for state key {served.StateKey}, expected {expectedKey}", "stateKey", expectedKey.ToString(), served.StateKey);
        byte[]? claimed = null;
        if (served.Value is not null && !TryBase64(served.Value, out claimed)) return Proof("state value is not base64", "value");
        if (!TryBase64(served.Proof, out var rawProof)) return Proof("state proof is not base64", "proof");
        if (!StateProof.Verify(rawProof, stateRoot, key, claimed))
            return Proof($"state proof does not verify against state root {stateRoot}", "proof", stateRoot.ToString());
        value = claimed;
        return null;
    }

    /// <summary>The account <paramref name="address"/> holds under <paramref name="stateRoot"/> (absent: empty), and the served JSON agrees with it.</summary>
    public static VerifyFailure? VerifyAccount(AccountResponse served, Address address, Hash32 stateRoot, out Account? account)
    {
        ArgumentNullException.ThrowIfNull(served);
        account = null;
        if (VerifyState(served.Proof, StateKeys.Account(address), stateRoot, out var value) is { } failure) return failure;
        if (value is not null && !Canonical.TryDecode<Account>(value, out account, out var error)) return Proof($"account value: {error!.Message}", "value");
        account ??= Account.Empty;
        if (account.Balance != served.Balance || account.Nonce != served.Nonce)
        {
            var proven = account;
            account = null;
            return Proof($"account {address}: the JSON fields differ from the proven value", "balance/nonce", proven.ToString(), $"balance {served.Balance}, nonce {served.Nonce}");
        }
        return null;
    }

    /// <summary>
    /// The model record (its canonical bytes; Chain.Execution's <c>ModelInfo</c> decodes them) registered as
    /// <paramref name="modelId"/> under <paramref name="stateRoot"/>; absence is a failure.
    /// </summary>
    public static VerifyFailure? VerifyModel(ModelResponse served, Hash32 modelId, Hash32 stateRoot, out byte[]? record)
    {
        ArgumentNullException.ThrowIfNull(served);
        if (VerifyState(served.Proof, StateKeys.Model(modelId), stateRoot, out record) is { } failure) return failure;
        return record is null ? Proof($"model {modelId}: the proof shows no model", "value", "a model record", "absent") : null;
    }

    /// <summary>
    /// A model registered in one transaction: its ONNX bytes under <paramref name="stateRoot"/>, checked to hash to
    /// <paramref name="modelId"/>. A chunked model's answer (<see cref="ModelCodeResponse.Chunks"/> set) goes through
    /// <see cref="VerifyModelLayout"/> and <see cref="VerifyModelChunk"/> instead (<see cref="ModelCodeAssembly"/>).
    /// </summary>
    public static VerifyFailure? VerifyModelCode(ModelCodeResponse served, Hash32 modelId, Hash32 stateRoot, out byte[]? code)
    {
        ArgumentNullException.ThrowIfNull(served);
        if (VerifyState(served.Proof, StateKeys.ModelCode(modelId), stateRoot, out code) is { } failure) return failure;
        if (code is null) return Proof($"model {modelId}: the proof shows no model code", "value", "the model's bytes", "absent");
        return VerifyModelHash(modelId, ref code);
    }

    /// <summary>
    /// A chunked model's layout (whose chunks, how many bytes) under <paramref name="stateRoot"/>, matching the served
    /// <see cref="ModelCodeResponse.Bytes"/> and <see cref="ModelCodeResponse.Chunks"/>; absence is a failure.
    /// </summary>
    public static VerifyFailure? VerifyModelLayout(ModelCodeResponse served, Hash32 modelId, Hash32 stateRoot, out ModelLayout? layout)
    {
        ArgumentNullException.ThrowIfNull(served);
        layout = null;
        if (VerifyState(served.Proof, StateKeys.ModelLayout(modelId), stateRoot, out var value) is { } failure) return failure;
        if (value is null) return Proof($"model {modelId}: the proof shows no chunk layout", "value", "a model layout", "absent");
        if (!Canonical.TryDecode<ModelLayout>(value, out var decoded, out var error)) return Proof($"model layout value: {error!.Message}", "value");
        if (decoded!.TotalBytes != served.Bytes || decoded.ChunkCount != served.Chunks)
            return Proof($"model {modelId}: the JSON fields differ from the proven layout", "bytes/chunks",
                $"{decoded.TotalBytes} bytes in {decoded.ChunkCount} chunks", $"{served.Bytes} bytes in {served.Chunks} chunks");
        layout = decoded;
        return null;
    }

    /// <summary>Chunk <paramref name="index"/> of a chunked model with <paramref name="layout"/>, proven under <paramref name="stateRoot"/>, of the length the layout gives.</summary>
    public static VerifyFailure? VerifyModelChunk(ModelCodeResponse served, Hash32 modelId, ModelLayout layout, int index, Hash32 stateRoot, out byte[]? chunk)
    {
        ArgumentNullException.ThrowIfNull(served);
        ArgumentNullException.ThrowIfNull(layout);
        if (served.Chunk != index)
        {
            chunk = null;
            return Proof($"model {modelId}: asked for chunk {index}, the node served chunk {served.Chunk?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}", "chunk");
        }
        if (VerifyState(served.Proof, layout.ChunkKey(modelId, index), stateRoot, out chunk) is { } failure) return failure;
        int expected = layout.ChunkLength(index);
        if (chunk is null || chunk.Length != expected)
        {
            var actual = chunk is null ? "absent" : $"{chunk.Length} bytes";
            chunk = null;
            return Proof($"model {modelId}: chunk {index} should be {expected} bytes, the proof shows {actual}", "value", $"{expected} bytes", actual);
        }
        return null;
    }

    /// <summary>Whether <paramref name="code"/> (set to null when not) hashes to <paramref name="modelId"/>: the last check of any model's bytes.</summary>
    public static VerifyFailure? VerifyModelHash(Hash32 modelId, ref byte[]? code)
    {
        ArgumentNullException.ThrowIfNull(code);
        var hash = DomainHash.Compute(HashDomain.Model, code);
        if (hash == modelId) return null;
        code = null;
        return Proof($"model {modelId}: the served bytes hash to another model id", "modelId", modelId.ToString(), hash.ToString());
    }

    internal static bool TryBase64(string? text, out byte[] bytes)
    {
        bytes = [];
        if (text is null) return false;
        try
        {
            bytes = Convert.FromBase64String(text);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static VerifyFailure Header(string message, string field, string? expected = null, string? actual = null) =>
        new(VerifyFailureKind.BadHeader, message, Field: field, Expected: expected, Actual: actual);

    private static VerifyFailure Proof(string message, string field, string? expected = null, string? actual = null) =>
        new(VerifyFailureKind.BadProof, message, Field: field, Expected: expected, Actual: actual);
}
