namespace Chain.Inference.Protobuf;

/// <summary>Protobuf wire types. Groups (3, 4) are deprecated and refused.</summary>
public enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}
