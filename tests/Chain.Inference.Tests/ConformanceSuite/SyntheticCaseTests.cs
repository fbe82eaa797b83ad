using Chain.Inference.Conformance;
using Chain.Inference.Onnx;

namespace Chain.Inference.Tests.ConformanceSuite;

/// <summary>
/// Case folders written here in the layout of ../shared/onnx-conformance, for the cases the shared set lacks:
/// test data in a type the chain does not read, and an admitted model ONNX Runtime cannot run.
/// </summary>
public sealed class SyntheticCaseTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-conformance-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const int Float16 = 10;

    private static OnnxValueInfo Value(string name, int type, params long[] shape) => new(name, type, shape.Select(OnnxDim.Fixed).ToArray());

    private static OnnxModel Model(long opset, OnnxNode node, OnnxValueInfo[] inputs, OnnxValueInfo[] outputs, params OnnxTensor[] initializers) =>
        new(8, [new OpsetImport("", opset)], new OnnxGraph("g", [node], initializers, inputs, outputs, []));

    /// <summary>Writes model.onnx and test_data_set_0/{input,output}_N.pb.</summary>
    private string WriteCase(string name, OnnxModel model, byte[][] inputs, byte[][] outputs)
    {
        var dir = Path.Combine(_dir, name);
        var data = Directory.CreateDirectory(Path.Combine(dir, "test_data_set_0")).FullName;
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), model.ToBytes());
        for (int i = 0; i < inputs.Length; i++) File.WriteAllBytes(Path.Combine(data, $"input_{i}.pb"), inputs[i]);
        for (int i = 0; i < outputs.Length; i++) File.WriteAllBytes(Path.Combine(data, $"output_{i}.pb"), outputs[i]);
        return dir;
    }

    private static byte[] Pb(Tensor tensor) => OnnxTensorProto.ToBytes(new OnnxTensor("", tensor));

    /// <summary>A TensorProto by hand (dims = 1, data_type = 2, raw_data = 9): the chain's writer has no float16.</summary>
    private static byte[] RawTensorProto(int dataType, long[] dims, byte[] raw)
    {
        var bytes = new List<byte>();
        void Varint(ulong v)
        {
            for (; v >= 0x80; v >>= 7) bytes.Add((byte)(v | 0x80));
            bytes.Add((byte)v);
        }
        foreach (var d in dims) { bytes.Add(0x08); Varint((ulong)d); }
        bytes.Add(0x10); Varint((ulong)dataType);
        bytes.Add(0x4a); Varint((ulong)raw.Length); bytes.AddRange(raw);
        return [.. bytes];
    }

    // Half-precision 1.0, -2.0, 0.5 (little-endian), and Relu of them.
    private static readonly byte[] HalfInput = [0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38];
    private static readonly byte[] HalfRelu = [0x00, 0x3c, 0x00, 0x00, 0x00, 0x38];

    private string Float16ReluCase(string name) => WriteCase(name,
        Model(14, new OnnxNode("relu", "Relu", "", ["x"], ["y"], []), [Value("x", Float16, 3)], [Value("y", Float16, 3)]),
        [RawTensorProto(Float16, [3], HalfInput)], [RawTensorProto(Float16, [3], HalfRelu)]);

    /// <summary>u8 [1,4] × s8 [4,2] weights all 2: y = 2 × (sum of x) in both columns.</summary>
    private static OnnxModel MatMulInteger() => Model(17, new OnnxNode("mm", "MatMulInteger", "", ["x", "w"], ["y"], []),
        [Value("x", (int)TensorElementType.UInt8, 1, 4)], [Value("y", (int)TensorElementType.Int32, 1, 2)],
        new OnnxTensor("w", Tensor.Create<sbyte>(TensorElementType.Int8, [4, 2], [2, 2, 2, 2, 2, 2, 2, 2])));

    private static readonly byte[] MatMulInput = Pb(Tensor.Create<byte>(TensorElementType.UInt8, [1, 4], [1, 2, 3, 4]));
    private static readonly byte[] MatMulOutput = Pb(Tensor.Create(TensorElementType.Int32, [1, 2], new[] { 20, 20 }));

    [Fact]
    public void A_float16_case_gets_a_verdict_and_the_run_goes_on_to_the_next_case()
    {
        Float16ReluCase("a_relu_float16");
        WriteCase("b_matmulinteger", MatMulInteger(), [MatMulInput], [MatMulOutput]);

        var results = ConformanceRunner.RunAll(_dir);

        Assert.Equal(["a_relu_float16", "b_matmulinteger"], results.Select(r => r.Case));
        var half = results[0];
        // A float model: admission's refusal is the verdict; its data cannot be read, so no executor ran.
        Assert.Equal(ConformanceVerdict.RefusedAsExpected, half.Verdict);
        Assert.True(half.FloatCase);
        Assert.Contains("data type 10", half.Reason);
        Assert.StartsWith("not run", half.Canonical);
        Assert.StartsWith("not run", half.Ort);
        Assert.Equal(ConformanceVerdict.Passed, results[1].Verdict);
    }

    [Fact]
    public void An_admitted_case_whose_expected_output_is_float16_is_an_error_verdict_not_a_crash_or_a_pass()
    {
        var dir = WriteCase("matmulinteger_float16_output", MatMulInteger(), [MatMulInput], [RawTensorProto(Float16, [1, 2], new byte[4])]);

        var result = ConformanceRunner.RunCase(dir);

        Assert.Equal(ConformanceVerdict.Error, result.Verdict);
        Assert.False(result.Ok);
        Assert.Contains("output_0.pb", result.Reason);
        Assert.Contains("data type 10", result.Reason);
        Assert.DoesNotContain('\n', result.Reason);
    }

    [Fact]
    public void A_case_with_a_missing_or_garbage_file_gets_an_error_verdict()
    {
        var missing = WriteCase("no_input_file", MatMulInteger(), [], [MatMulOutput]);
        var garbage = Path.Combine(_dir, "garbage_model");
        Directory.CreateDirectory(garbage);
        File.WriteAllBytes(Path.Combine(garbage, "model.onnx"), [0x3a, 0xff, 0x01]);

        var noInput = ConformanceRunner.RunCase(missing);
        Assert.Equal(ConformanceVerdict.Error, noInput.Verdict);
        Assert.Contains("input_0.pb", noInput.Reason);
        var unreadable = ConformanceRunner.RunCase(garbage);
        Assert.Equal(ConformanceVerdict.Error, unreadable.Verdict);
        Assert.Contains("cannot read model.onnx", unreadable.Reason);
    }

    [Fact]
    public void An_admitted_case_onnx_runtime_cannot_run_but_canonical_matches_is_canonical_only()
    {
        // Relu on int16 is admitted (opset 14); ONNX Runtime's CPU provider has no int16 Relu kernel.
        var dir = WriteCase("relu_int16", Model(14, new OnnxNode("relu", "Relu", "", ["x"], ["y"], []),
                [Value("x", (int)TensorElementType.Int16, 3)], [Value("y", (int)TensorElementType.Int16, 3)]),
            [Pb(Tensor.Create<short>(TensorElementType.Int16, [3], [1, -2, 300]))],
            [Pb(Tensor.Create<short>(TensorElementType.Int16, [3], [1, 0, 300]))]);

        var result = ConformanceRunner.RunCase(dir);

        Assert.True(result.Admitted, result.Refusal);
        Assert.Equal("match", result.Canonical);
        Assert.StartsWith("error: ONNX Runtime refused the model", result.Ort);
        Assert.Equal(ConformanceVerdict.CanonicalOnly, result.Verdict);
        Assert.True(result.Ok);
        Assert.Contains("ONNX Runtime cannot run it", result.Reason);
    }

    [Fact]
    public void A_wrong_expected_output_still_fails()
    {
        var dir = WriteCase("matmulinteger_wrong", MatMulInteger(), [MatMulInput],
            [Pb(Tensor.Create(TensorElementType.Int32, [1, 2], new[] { 20, 21 }))]);

        var result = ConformanceRunner.RunCase(dir);

        Assert.Equal(ConformanceVerdict.Failed, result.Verdict);
        Assert.Contains("differs first at element 1", result.Reason);
    }
}
