using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Merkle;
using Chain.Core.Protocol;
using Chain.State;

namespace Chain.Rpc;

/// <summary>
/// Client-side checks of what the RPC serves, using only Core's Merkle code and State's proof verifier:
/// a transaction and its receipt against a header's transactions and receipts roots, and a state value
/// against a header's state root. The header itself must come from somewhere the client trusts
/// (<see cref="RpcClient.VerifiedHeaderAsync"/> checks it against a commit signed by known validators).
/// </summary>
public static class ProofVerifier
{
    /// <summary>True when the served transaction and receipt are leaf <c>Index</c> of <paramref name="header"/>'s roots.</summary>
    public static bool VerifyTransaction(TransactionLookupResponse served, Hash32 expectedHash, BlockHeader header,
        out SignedTransaction? transaction, out Receipt? receipt, out string reason)
    {
        transaction = null;
        receipt = null;
        if (!TryBase64(served.RawTransaction, out var rawTx) || !TryBase64(served.RawReceipt, out var rawReceipt)
            || !TryBase64(served.TransactionProof, out var rawTxProof) || !TryBase64(served.ReceiptProof, out var rawReceiptProof))
            return Fail("a served field is not base64", out reason);
        if (!Canonical.TryDecode<SignedTransaction>(rawTx, out var tx, out var e1)) return Fail($"transaction: {e1!.Message}", out reason);
        if (!Canonical.TryDecode<Receipt>(rawReceipt, out var r, out var e2)) return Fail($"receipt: {e2!.Message}", out reason);
        if (!Canonical.TryDecode<InclusionProof>(rawTxProof, out var txProof, out var e3)) return Fail($"transaction proof: {e3!.Message}", out reason);
        if (!Canonical.TryDecode<InclusionProof>(rawReceiptProof, out var receiptProof, out var e4)) return Fail($"receipt proof: {e4!.Message}", out reason);
        if (tx!.Hash != expectedHash) return Fail($"served transaction hashes to {tx.Hash}, not {expectedHash}", out reason);
        if (r!.TransactionHash != tx.Hash) return Fail("the receipt is for another transaction", out reason);
        if (header.Height.Value != served.Height) return Fail($"header is for height {header.Height}, the transaction is at {served.Height}", out reason);
        if (txProof!.LeafIndex != (ulong)served.Index || receiptProof!.LeafIndex != (ulong)served.Index)
            return Fail("the proofs are for another position in the block", out reason);
        if (!txProof.Verify(header.TransactionsRoot, rawTx))
            return Fail($"transaction proof does not verify against transactions root {header.TransactionsRoot}", out reason);
        if (!receiptProof.Verify(header.ReceiptsRoot, rawReceipt))
            return Fail($"receipt proof does not verify against receipts root {header.ReceiptsRoot}", out reason);
        transaction = tx;
        receipt = r;
        reason = "";
        return true;
    }

    /// <summary>
    /// True when <paramref name="served"/> proves that <paramref name="expectedKey"/> holds the served value (or nothing)
    /// under <paramref name="stateRoot"/>; <paramref name="value"/> is the proven value (null: absent).
    /// </summary>
    public static bool VerifyState(StateProofJson served, Hash32 expectedKey, Hash32 stateRoot, out byte[]? value, out string reason)
    {
        value = null;
        if (!Hash32.TryParse(served.StateKey, out var key) || key != expectedKey)
            return Fail($"proof is for state key {served.StateKey}, expected {expectedKey}", out reason);
        byte[]? claimed = null;
        if (served.Value is not null && !TryBase64(served.Value, out claimed)) return Fail("state value is not base64", out reason);
        if (!TryBase64(served.Proof, out var rawProof)) return Fail("state proof is not base64", out reason);
        if (!StateProof.Verify(rawProof, stateRoot, key, claimed))
            return Fail($"state proof does not verify against state root {stateRoot}", out reason);
        value = claimed;
        reason = "";
        return true;
    }

    private static bool TryBase64(string text, out byte[] bytes)
    {
        try
        {
            bytes = Convert.FromBase64String(text);
            return true;
        }
        catch (FormatException)
        {
            bytes = [];
            return false;
        }
    }

    private static bool Fail(string message, out string reason)
    {
        reason = message;
        return false;
    }
}
