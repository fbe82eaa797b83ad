namespace Chain.ModelTool.Tests;

public class IntegerReferenceTests
{
    /// <summary>
    /// image [1,1,2,2] = [10,20,30,40] (scale 0.5, zp 0) → QLinearConv 2×2 kernel, 2 output channels, no ReLU,
    /// w_scale 0.25, y_scale 0.5, y_zp 3 → Reshape [1,2] → ArgMax.
    ///   channel 0: w [1,-2,3,-1], bias 5:  acc = 10-40+90-40+5 = 25; m = 0.5·0.25/0.5 = 0.25; 6.25 → 6; +3 = 9
    ///   channel 1: w [0,0,0,1],  bias -8: acc = 40-8 = 32; 32·0.25 = 8; +3 = 11
    /// </summary>
    internal static QuantizedModel Tiny(byte yZp = 3) => new(
        "tiny",
        new QuantizedInput("image", [1, 1, 2, 2], 0.5f, 0),
        [
            new QLinearConvLayer("conv", "image", "y4", [1, 2, 1, 1], 0.5f, 0, [2, 1, 2, 2], [1, -2, 3, -1, 0, 0, 0, 1], [0.25f], 0,
                [5, -8], 0.5f, yZp, [2, 2], [1, 1], [0, 0, 0, 0], false),
            new ReshapeLayer("flat", "y4", "logits", [1, 2], [1, 2]),
            new ArgMaxLayer("argmax", "logits", "class", [1], 1, false),
        ],
        ["logits", "class"]);

    [Fact]
    public void Matches_the_hand_computed_case()
    {
        var r = IntegerReference.Run(Tiny(), [10, 20, 30, 40]);
        Assert.Equal([9, 11], r.Logits);
        Assert.Equal(1, r.Class);
    }

    [Fact]
    public void Zero_point_zero_folds_relu_and_argmax_takes_the_first_maximum()
    {
        // With y_zp 0 channel 0 of [0,0,0,10]: acc = -10+5 = -5 → -1.25 → -1 → saturates to 0 (ReLU);
        // channel 1: acc = 10-8 = 2 → 0.5 → 0 (half to even). Both 0: ArgMax picks index 0.
        var r = IntegerReference.Run(Tiny(0), [0, 0, 0, 10]);
        Assert.Equal([0, 0], r.Logits);
        Assert.Equal(0, r.Class);
    }

    [Fact]
    public void Padded_convolution_and_maxpool()
    {
        // 3×3 kernel of ones, pad 1, over a 2×2 input with x_zp 2 (so padding counts as 0 after the zero point):
        // every output sees all four pixels: (5-2)+(6-2)+(7-2)+(8-2) = 18; scales chosen so m = 1.
        var model = new QuantizedModel("pad", new QuantizedInput("image", [1, 1, 2, 2], 1f, 2),
        [
            new QLinearConvLayer("conv", "image", "c", [1, 1, 2, 2], 1f, 2, [1, 1, 3, 3], Enumerable.Repeat((sbyte)1, 9).ToArray(), [1f], 0,
                [0], 1f, 0, [3, 3], [1, 1], [1, 1, 1, 1], true),
            new MaxPoolLayer("pool", "c", "p", [1, 1, 1, 1], [2, 2], [2, 2]),
            new ReshapeLayer("flat", "p", "logits", [1, 1], [1, 1]),
            new ArgMaxLayer("argmax", "logits", "class", [1], 1, false),
        ], ["logits", "class"]);
        Assert.Equal([18], IntegerReference.Run(model, [5, 6, 7, 8]).Logits);
    }

    [Fact]
    public void Refuses_weights_outside_the_consensus_range_and_mismatched_scales()
    {
        var tiny = Tiny();
        var conv = (QLinearConvLayer)tiny.Layers[0];
        var wide = tiny with { Layers = [conv with { Weights = [1, -2, 3, -65, 0, 0, 0, 1] }, .. tiny.Layers.Skip(1)] };
        Assert.Contains("outside [-64, 63]", Assert.Throws<InvalidOperationException>(() => IntegerReference.Run(wide, [1, 2, 3, 4])).Message);
        var scale = tiny with { Layers = [conv with { InputScale = 0.25f }, .. tiny.Layers.Skip(1)] };
        Assert.Contains("x_scale", Assert.Throws<InvalidOperationException>(() => IntegerReference.Run(scale, [1, 2, 3, 4])).Message);
    }

    [Fact]
    public void Json_round_trips_byte_for_byte()
    {
        var json = QuantizedModelJson.Serialize(Tiny());
        Assert.Contains("\"op\": \"QLinearConv\"", json);
        var back = QuantizedModelJson.Deserialize(json);
        Assert.Equal(json, QuantizedModelJson.Serialize(back));
        Assert.Equal([9, 11], IntegerReference.Run(back, [10, 20, 30, 40]).Logits);
    }
}
