namespace Chain.Core.Crypto;

/// <summary>Checks an Ed25519 signature; the same answer as <see cref="Ed25519.Verify(in PublicKey, ReadOnlySpan{byte}, in Signature)"/>, possibly cached.</summary>
public interface ISignatureChecker
{
    bool Verify(in PublicKey publicKey, ReadOnlySpan<byte> message, in Signature signature);
}
