using Chain.Core.Codec;
using MessagePack;

namespace Chain.Core.State;

/// <summary>An account. Encoding: <c>[balance: uint, nonce: uint]</c>. An absent record is balance 0, nonce 0.</summary>
public sealed class Account : CanonicalObject<Account>, ICanonicalObject<Account>
{
    public static Account Empty { get; } = new(0, 0);

    public Account(ulong balance, ulong nonce)
    {
        Balance = balance;
        Nonce = nonce;
    }

    public ulong Balance { get; }

    /// <summary>The nonce the account's next transaction must carry.</summary>
    public ulong Nonce { get; }

    public bool IsEmpty => Balance == 0 && Nonce == 0;

    public static string KindName => "account";
    public static int MaxEncodedSize => 32;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(2);
        writer.Write(Balance);
        writer.Write(Nonce);
    }

    public static Account ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(2, "account");
        return new Account(reader.ReadUInt64("balance"), reader.ReadUInt64("nonce"));
    }

    public override string ToString() => $"balance {Balance}, nonce {Nonce}";
}
