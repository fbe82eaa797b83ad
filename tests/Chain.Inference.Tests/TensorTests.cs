using Chain.Core.Codec;

namespace Chain.Inference.Tests;

public class TensorTests
{
    [Fact]
    public void Canonical_encoding_round_trips_and_hash_is_stable()
    {
        var t = Tensor.Create<sbyte>(TensorElementType.Int8, [2, 3], new sbyte[] { -128, -1, 0, 1, 2, 127 });
        var bytes = Canonical.Encode(t);
        var back = Canonical.Decode<Tensor>(bytes);
        Assert.Equal(t, back);
        Assert.Equal(t.Hash, back.Hash);
        Assert.Equal(new sbyte[] { -128, -1, 0, 1, 2, 127 }, back.Elements<sbyte>().ToArray());
    }

    [Fact]
    public void Data_length_must_match_shape()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Create(TensorElementType.Int32, [2], new byte[7]));
        Assert.Contains("needs 8", ex.Message);
    }

    [Fact]
    public void Decoder_refuses_data_that_disagrees_with_shape()
    {
        var good = Canonical.Encode(Tensor.Create(TensorElementType.UInt8, [4], new byte[4]));
        var bad = Canonical.Encode(Tensor.Create(TensorElementType.UInt8, [5], new byte[5]));
        bad[3] = 4; // shape says 4, data holds 5 bytes
        var ex = Assert.Throws<CanonicalEncodingException>(() => Canonical.Decode<Tensor>(bad));
        Assert.Equal(DecodeError.InvalidValue, ex.Error);
        Assert.NotNull(Canonical.Decode<Tensor>(good));
    }

    [Fact]
    public void Decoder_refuses_unknown_element_type()
    {
        var bytes = Canonical.Encode(Tensor.Create(TensorElementType.UInt8, [1], new byte[1]));
        bytes[1] = 99;
        Assert.Throws<CanonicalEncodingException>(() => Canonical.Decode<Tensor>(bytes));
    }
}
