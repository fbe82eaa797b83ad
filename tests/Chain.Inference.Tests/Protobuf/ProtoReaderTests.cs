using Chain.Inference.Protobuf;

namespace Chain.Inference.Tests.Protobuf;

public class ProtoReaderTests
{
    private static long ReadVarint(byte[] bytes)
    {
        var r = new ProtoReader(bytes);
        var v = (long)r.ReadVarint();
        Assert.True(r.AtEnd);
        return v;
    }

    [Theory]
    [InlineData(new byte[] { 0x00 }, 0L)]
    [InlineData(new byte[] { 0x96, 0x01 }, 150L)]
    [InlineData(new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, -1L)]
    [InlineData(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 }, long.MinValue)]
    public void Varints_decode(byte[] bytes, long expected) => Assert.Equal(expected, ReadVarint(bytes));

    [Fact]
    public void Varint_round_trips_through_writer()
    {
        var rng = new Random(7);
        for (var i = 0; i < 2000; i++)
        {
            var v = rng.NextInt64(long.MinValue, long.MaxValue) >> rng.Next(64);
            var w = new ProtoWriter();
            w.WriteVarint((ulong)v);
            Assert.Equal(v, ReadVarint(w.ToArray()));
        }
    }

    [Fact]
    public void Truncated_varint_names_its_offset()
    {
        var ex = Assert.Throws<OnnxFormatException>(() => ReadVarint([0x96]));
        Assert.Contains("truncated varint", ex.Message);
        Assert.Equal(0, ex.Offset);
    }

    [Fact]
    public void Overlong_varints_are_refused()
    {
        var eleven = Enumerable.Repeat((byte)0x80, 10).Append((byte)0x00).ToArray();
        Assert.Contains("longer than 10 bytes", Assert.Throws<OnnxFormatException>(() => ReadVarint(eleven)).Message);
        var tenthTooBig = Enumerable.Repeat((byte)0xff, 9).Append((byte)0x02).ToArray();
        Assert.Contains("overflows 64 bits", Assert.Throws<OnnxFormatException>(() => ReadVarint(tenthTooBig)).Message);
    }

    [Fact]
    public void Length_past_end_is_refused_with_offset()
    {
        // field 1, length-delimited, length 5 but only 2 bytes follow; error points at the length byte.
        byte[] bytes = [0x0a, 0x05, 0x01, 0x02];
        var ex = Assert.Throws<OnnxFormatException>(() =>
        {
            var r = new ProtoReader(bytes);
            r.TryReadTag(out _, out _);
            r.ReadBytes();
        });
        Assert.Contains("runs past the end", ex.Message);
        Assert.Equal(1, ex.Offset);
        Assert.Contains("at byte 1", ex.Message);
    }

    [Fact]
    public void Fixed_widths_and_skipping_unknown_fields()
    {
        var w = new ProtoWriter();
        w.WriteInt64(1, 42);
        w.WriteFloat(2, 1.5f);
        w.WriteTag(3, WireType.Fixed64);
        w.WriteVarint(0); // placeholder, replaced below
        var bytes = w.ToArray().Take(w.Length - 1).Concat(BitConverter.GetBytes(0x0102030405060708UL)).ToList();
        bytes.AddRange(new ProtoWriterBytes(4, "skip me").Bytes);
        var r = new ProtoReader(bytes.ToArray());
        Assert.True(r.TryReadTag(out var f, out var wt));
        Assert.Equal((1, WireType.Varint), (f, wt));
        r.Skip(wt);
        Assert.True(r.TryReadTag(out f, out wt));
        Assert.Equal(1.5f, r.ReadFloat());
        Assert.True(r.TryReadTag(out f, out wt));
        Assert.Equal(0x0102030405060708UL, r.ReadFixed64());
        Assert.True(r.TryReadTag(out f, out wt));
        r.Skip(wt);
        Assert.False(r.TryReadTag(out _, out _));
    }

    private sealed record ProtoWriterBytes(int Field, string Text)
    {
        public byte[] Bytes
        {
            get
            {
                var w = new ProtoWriter();
                w.WriteString(Field, Text);
                return w.ToArray();
            }
        }
    }

    [Fact]
    public void Packed_and_unpacked_repeated_fields_mix()
    {
        var w = new ProtoWriter();
        w.WritePackedVarints(1, [1, -2, 300]);
        w.WriteInt64(1, 4);
        w.WritePackedFloats(2, [0.5f, -1f]);
        w.WriteFloat(2, 3f);
        var r = new ProtoReader(w.ToArray());
        var ints = new List<long>();
        var floats = new List<float>();
        while (r.TryReadTag(out var f, out var wt))
        {
            if (f == 1) r.ReadRepeatedVarint(wt, ints, "ints");
            else r.ReadRepeatedFloat(wt, floats, "floats");
        }
        Assert.Equal([1, -2, 300, 4], ints);
        Assert.Equal([0.5f, -1f, 3f], floats);
    }

    [Fact]
    public void Repeated_counts_are_limited()
    {
        var w = new ProtoWriter();
        w.WritePackedVarints(1, [1, 2, 3, 4]);
        var ex = Assert.Throws<OnnxFormatException>(() =>
        {
            var r = new ProtoReader(w.ToArray());
            r.TryReadTag(out _, out var wt);
            r.ReadRepeatedVarint(wt, [], "dims", 3);
        });
        Assert.Contains("more than 3 dims", ex.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x0b }, "group")]          // field 1, start group
    [InlineData(new byte[] { 0x0e }, "unknown wire type")]
    [InlineData(new byte[] { 0x02 }, "field number 0")]
    public void Bad_keys_are_refused(byte[] bytes, string expected)
    {
        var ex = Assert.Throws<OnnxFormatException>(() =>
        {
            var r = new ProtoReader(bytes);
            r.TryReadTag(out _, out _);
        });
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Nesting_depth_is_limited()
    {
        // Each level is field 1 wrapping the next; the innermost is empty.
        byte[] inner = [];
        for (var i = 0; i < ProtoLimits.MaxDepth + 2; i++)
        {
            var w = new ProtoWriter();
            w.WriteBytes(1, inner);
            inner = w.ToArray();
        }
        var ex = Assert.Throws<OnnxFormatException>(() => Descend(new ProtoReader(inner)));
        Assert.Contains("nested deeper", ex.Message);

        static void Descend(ProtoReader r)
        {
            while (r.TryReadTag(out _, out _)) Descend(r.ReadMessage("level"));
        }
    }

    [Fact]
    public void Oversized_input_is_refused()
    {
        var ex = Assert.Throws<OnnxFormatException>(() => new ProtoReader(new byte[ProtoLimits.MaxMessageBytes + 1]));
        Assert.Contains("more than the limit", ex.Message);
    }

    [Fact]
    public void Invalid_utf8_strings_are_refused()
    {
        var w = new ProtoWriter();
        w.WriteBytes(1, [0xc3, 0x28]);
        var ex = Assert.Throws<OnnxFormatException>(() =>
        {
            var r = new ProtoReader(w.ToArray());
            r.TryReadTag(out _, out _);
            r.ReadString("name");
        });
        Assert.Contains("not valid UTF-8", ex.Message);
    }
}
