using Chain.Core;
using Chain.Core.Codec;
using Chain.Inference;
using MessagePack;
using Chain.Core.State;

namespace Chain.Execution;

/// <summary>A tensor's static signature: element type and shape. Encoding: <c>[elementType: uint, [dim: uint, ...]]</c>.</summary>
public sealed record TensorSignature(TensorElementType ElementType, int[] Shape)
{
    /// <summary>Canonical encoded size of a tensor of this signature (header overhead bounded generously).</summary>
    public long DataBytes => Shape.Aggregate(1L, (a, d) => a * d) * TensorElementTypes.SizeOf(ElementType);

    public bool Matches(Tensor tensor) => tensor.ElementType == ElementType && tensor.ShapeEquals(Shape);

    public override string ToString() => $"{TensorElementTypes.Name(ElementType)}[{string.Join(",", Shape)}]";

    internal void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(2);
        writer.Write((byte)ElementType);
        writer.WriteArrayHeader(Shape.Length);
        foreach (var d in Shape) writer.Write((uint)d);
    }

    internal static TensorSignature ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(2, "tensor signature");
        var type = (TensorElementType)reader.ReadByte("element type");
        int rank = reader.ReadArrayCount("shape", Tensor.MaxRank);
        var shape = new int[rank];
        for (int i = 0; i < rank; i++) shape[i] = checked((int)reader.ReadUInt32("dimension"));
        return new TensorSignature(type, shape);
    }
}

/// <summary>
/// A registered model's metadata. The bytes live separately under <see cref="StateKeys.ModelCode"/>.
/// Encoding: <c>[owner: Address, name: str, input: TensorSignature, output: TensorSignature, gas: uint, macs: uint, registeredAt: uint]</c>.
/// </summary>
public sealed class ModelInfo : CanonicalObject<ModelInfo>, ICanonicalObject<ModelInfo>
{
    public ModelInfo(Address owner, string name, TensorSignature input, TensorSignature output, ulong gas, ulong macs, ulong registeredAt)
    {
        Owner = owner;
        Name = name ?? throw new ArgumentNullException(nameof(name));
        Input = input;
        Output = output;
        Gas = gas;
        Macs = macs;
        RegisteredAt = registeredAt;
    }

    public Address Owner { get; }
    public string Name { get; }
    public TensorSignature Input { get; }
    public TensorSignature Output { get; }

    /// <summary>Static gas of one inference (GasSchedule.Gas over the nodes' work and the planned arena).</summary>
    public ulong Gas { get; }
    public ulong Macs { get; }

    /// <summary>Height of the block that registered it; 0 for genesis models.</summary>
    public ulong RegisteredAt { get; }

    public static string KindName => "model info";
    public static int MaxEncodedSize => 1024;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(7);
        writer.Write(Owner);
        writer.Write(Name);
        Input.WriteTo(ref writer);
        Output.WriteTo(ref writer);
        writer.Write(Gas);
        writer.Write(Macs);
        writer.Write(RegisteredAt);
    }

    public static ModelInfo ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(7, "model info");
        return new ModelInfo(
            reader.ReadAddress("owner"),
            reader.ReadString("name", Core.Protocol.ProtocolLimits.MaxModelNameBytes),
            TensorSignature.ReadFrom(ref reader),
            TensorSignature.ReadFrom(ref reader),
            reader.ReadUInt64("gas"),
            reader.ReadUInt64("macs"),
            reader.ReadUInt64("registered at"));
    }
}

/// <summary>One offender of included evidence: its consensus address and the tokens slashed (burned) for it.</summary>
public readonly record struct SlashedOffender(Address Offender, ulong Slashed);

/// <summary>
/// Evidence a block included, kept in state under <see cref="StateKeys.Evidence"/> so the same evidence can never
/// be included twice and anyone can prove a validator was caught and what it lost. Encoding:
/// <c>[[[offender: Address, slashed: uint], ...], offenceHeight: uint, includedAt: uint, kind: str]</c>.
/// </summary>
public sealed class CommittedEvidence : CanonicalObject<CommittedEvidence>, ICanonicalObject<CommittedEvidence>
{
    private readonly SlashedOffender[] _offenders;

    public CommittedEvidence(IEnumerable<SlashedOffender> offenders, ulong offenceHeight, ulong includedAt, string kind)
    {
        _offenders = offenders.ToArray();
        if (_offenders.Length is 0 or > Core.Protocol.ProtocolLimits.MaxValidators)
            throw new ArgumentException($"{_offenders.Length} offenders, expected 1 to {Core.Protocol.ProtocolLimits.MaxValidators}", nameof(offenders));
        OffenceHeight = offenceHeight;
        IncludedAt = includedAt;
        Kind = kind ?? throw new ArgumentNullException(nameof(kind));
    }

    public IReadOnlyList<SlashedOffender> Offenders => _offenders;

    /// <summary>The first offender (the only one, except for a light-client attack).</summary>
    public Address Offender => _offenders[0].Offender;
    public ulong OffenceHeight { get; }
    public ulong IncludedAt { get; }
    public string Kind { get; }

    public static string KindName => "committed evidence";
    public static int MaxEncodedSize => 128 + Core.Protocol.ProtocolLimits.MaxValidators * 36;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(4);
        writer.WriteArrayHeader(_offenders.Length);
        foreach (var o in _offenders)
        {
            writer.WriteArrayHeader(2);
            writer.Write(o.Offender);
            writer.Write(o.Slashed);
        }
        writer.Write(OffenceHeight);
        writer.Write(IncludedAt);
        writer.Write(Kind);
    }

    public static CommittedEvidence ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(4, "committed evidence");
        long at = reader.Offset;
        int count = reader.ReadArrayCount("offenders", Core.Protocol.ProtocolLimits.MaxValidators);
        if (count == 0) throw reader.Error(DecodeError.InvalidValue, "committed evidence names no offender", at);
        var offenders = new SlashedOffender[count];
        for (int i = 0; i < count; i++)
        {
            reader.ReadArrayHeader(2, "offender");
            offenders[i] = new SlashedOffender(reader.ReadAddress("offender"), reader.ReadUInt64("slashed"));
        }
        return new CommittedEvidence(offenders, reader.ReadUInt64("offence height"), reader.ReadUInt64("included at"), reader.ReadString("kind", 32));
    }
}
