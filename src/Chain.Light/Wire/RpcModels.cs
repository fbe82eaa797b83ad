namespace Chain.Rpc;

// The JSON shapes of the RPC (docs/rpc.md): one definition, shared by the server (Chain.Rpc) and every client, which is
// why it lives in Chain.Light (no ASP.NET, RocksDB or ONNX Runtime) while keeping the Chain.Rpc namespace. Hashes, addresses, keys and signatures are lower-case hex;
// canonical encodings (raw blocks, transactions, receipts, proofs) are base64.

public sealed record ErrorResponse(string Error, string? Code = null);

public sealed record StatusResponse(
    string ChainId, ulong Height, string? LatestBlockHash, ulong? LatestBlockTimeMs, string StateRoot,
    int PeersConnected, bool Syncing, string? ValidatorAddress, string? NodeKey,
    int MempoolTransactions, long MempoolBytes, ParamsJson? Params = null);

/// <summary>
/// The chain's execution parameters (genesis <c>params</c>), so that a client prices a transaction with
/// <c>Gas.MinFee</c> at this chain's gas price (Chain.Rpc's <c>ToParameters</c>). Absent only from nodes older than this field.
/// </summary>
public sealed record ParamsJson(
    ulong GasPrice, ulong BlockGasLimit, int MaxTxBytes, ulong TransferGas, ulong RegisterModelGas, ulong ModelByteGas, ulong InferGas, ulong InputByteGas);

public sealed record HeaderJson(
    string Hash, uint Version, string ChainId, ulong Height, ulong TimeMs,
    string LastBlockHash, string LastCommitHash, string TransactionsRoot, string ReceiptsRoot, string StateRoot,
    string ValidatorsHash, string NextValidatorsHash, string EvidenceRoot, string Proposer);

/// <summary>A signed transaction; the body fields present depend on <see cref="Kind"/>.</summary>
public sealed record TransactionJson(
    string Hash, string Kind, string ChainId, string Sender, string SenderPublicKey, ulong Nonce, ulong Fee, string Signature,
    string? Recipient = null, ulong? Amount = null,
    string? ModelName = null, string? ModelId = null, int? ModelBytes = null,
    int? InputBytes = null, ulong? MaxGas = null);

public sealed record BlockResponse(HeaderJson Header, IReadOnlyList<TransactionJson> Transactions, string? LastCommitHash, string Raw, string RawHeader);

public sealed record HeaderResponse(HeaderJson Header, string Raw);

public sealed record CommitSignatureJson(string Validator, ulong TimestampMs, string Signature);

/// <summary>
/// GET /commits/{h}. <see cref="Canonical"/> true: the commit the chain recorded for h (block h+1's <c>lastCommit</c>),
/// the same on every node and hashing to header h+1's <c>lastCommitHash</c>; false: h is the node's latest height and
/// this is the commit the node itself saw (another node may serve another +2/3 set for it until h+1 is committed).
/// </summary>
public sealed record CommitResponse(ulong Height, uint Round, string BlockHash, string Hash, IReadOnlyList<CommitSignatureJson> Signatures, string Raw,
    bool Canonical = false);

public sealed record ValidatorJson(string Address, string PublicKey, ulong Power);

public sealed record ValidatorsResponse(ulong Height, string Hash, ulong TotalPower, IReadOnlyList<ValidatorJson> Validators, string Raw);

public sealed record InferenceJson(string ModelId, uint SemanticsVersion, string InputHash, string OutputHash, string Output);

public sealed record ReceiptJson(string TransactionHash, string Status, ulong GasUsed, InferenceJson? Inference, string Hash);

/// <summary>
/// A committed transaction with its receipt and the proofs tying both to the header: <see cref="TransactionProof"/>
/// proves <see cref="RawTransaction"/> against the header's transactions root, <see cref="ReceiptProof"/> proves
/// <see cref="RawReceipt"/> against its receipts root (canonical RFC 9162 inclusion proofs, base64).
/// </summary>
public sealed record TransactionLookupResponse(
    ulong Height, int Index, string BlockHash, TransactionJson Transaction, ReceiptJson Receipt,
    string RawHeader, string RawTransaction, string RawReceipt, string TransactionProof, string ReceiptProof);

/// <summary>
/// A state value with its sparse-Merkle proof: <see cref="Proof"/> proves that <see cref="StateKey"/> holds
/// <see cref="Value"/> (absent when null) under <see cref="StateRoot"/>, the state root of the header at <see cref="Height"/>.
/// </summary>
public sealed record StateProofJson(ulong Height, string StateRoot, string StateKey, string? Value, string Proof);

public sealed record AccountResponse(string Address, ulong Balance, ulong Nonce, StateProofJson Proof);

public sealed record TensorSignatureJson(string ElementType, IReadOnlyList<int> Shape);

public sealed record ModelResponse(
    string ModelId, string Name, string Owner, TensorSignatureJson Input, TensorSignatureJson Output,
    ulong Gas, ulong Macs, ulong RegisteredAt, StateProofJson Proof);

/// <summary>
/// GET /models/{id}/code[?chunk=i]. A model registered in one transaction: <see cref="Chunks"/> is null and the ONNX bytes are
/// the proof's value (base64). A chunked model: without <c>chunk</c>, <see cref="Bytes"/> is the model's size, <see cref="Chunks"/>
/// its chunk count and the proof's value its layout record; with <c>chunk=i</c>, <see cref="Chunk"/> is i, <see cref="Bytes"/>
/// that chunk's length and the proof's value its bytes. Every proof is under the state root of the header at its height.
/// </summary>
public sealed record ModelCodeResponse(string ModelId, int Bytes, StateProofJson Proof, int? Chunks = null, int? Chunk = null);

/// <summary>
/// GET /models/{id}/uploads/{owner}: the owner's unsealed upload of the model as of <see cref="Height"/>, for resuming it
/// (<c>chain tx register-model</c>): which chunk indexes the state holds. Unproven: a hint for the uploader, whose
/// transactions the chain checks anyway. 404 when there is no such upload (never begun, sealed, expired or freed).
/// </summary>
public sealed record ModelUploadResponse(string ModelId, string Owner, string Name, int TotalBytes, int Chunks, ulong ExpiresAt,
    IReadOnlyList<int> Present, ulong Height);

/// <summary>POST /txs body: the canonical signed transaction in hex.</summary>
public sealed record SubmitRequest(string? Tx);

/// <summary>POST /txs/batch body: hex of each canonical signed transaction (at most <c>RpcOptions.MaxBatchTransactions</c>).</summary>
public sealed record BatchSubmitRequest(IReadOnlyList<string>? Txs);

/// <summary>One transaction of a batch, answered in request order: <c>pending</c> (admitted and gossiped) or <c>rejected</c> with the one-line reason and its code (a <c>RejectCode</c>, or <c>bad_request</c> when it did not decode; <see cref="Hash"/> is then null).</summary>
public sealed record BatchSubmitResult(string? Hash, string Status, string? Error = null, string? Code = null);

public sealed record BatchSubmitResponse(IReadOnlyList<BatchSubmitResult> Results);

/// <summary>
/// The outcome of a submission: "pending" (admitted to the mempool; sync mode) or "committed" (commit mode,
/// with where it landed and its receipt).
/// </summary>
public sealed record SubmitResponse(string Hash, string Status, ulong? Height = null, int? Index = null, ReceiptJson? Receipt = null);

/// <summary>One Server-Sent Event on /events/blocks.</summary>
public sealed record BlockEvent(ulong Height, string Hash, int TxCount, ulong TimeMs, string StateRoot);
