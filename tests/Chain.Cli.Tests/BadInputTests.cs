using System.CommandLine;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;
using Chain.Node;
using Chain.Rpc;

namespace Chain.Cli.Tests;

/// <summary>
/// Every command that takes a model or an input, given each kind of bad one: exit non-zero, exactly one
/// "error: ..." line on stderr that says what was wrong, and never a stack trace.
/// </summary>
public sealed class BadInputTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-bad-input-").FullName;
    private InProcessRpcNode _node = null!;
    private RpcServer _server = null!;
    private string _url = "";

    public async Task InitializeAsync()
    {
        var genesis = GenesisFile.Load(Path.Combine(Path.GetDirectoryName(Models)!, "devnet.json"));
        var validators = Enumerable.Range(0, 4).Select(i => DevnetKeys.For($"validator-{i}")).ToArray();
        _node = new InProcessRpcNode(genesis, validators, new InferenceRunner(new InferenceEngine(enableFastPath: false)));
        _node.ProduceBlock();
        _server = new RpcServer(_node, new NodeMetrics(), new RpcOptions { Port = 0 });
        await _server.StartAsync();
        _url = _server.BaseAddress.ToString();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private static string Models => GenesisModels.Locate(AppContext.BaseDirectory) ?? throw new InvalidOperationException("genesis/models not found");
    private static string Mlp => Path.Combine(Models, "mlp.onnx");
    private static Hash32 MlpId => GenesisModels.Load(Models).Single(m => m.File == "mlp.onnx").ModelId;

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Missing => Path.Combine(_dir, "missing.onnx");
    private string Truncated => Write("truncated.onnx", File.ReadAllBytes(Mlp)[..300]);
    private string Garbage => Write("garbage.onnx", [0x3a, 0xff, 0x01, 0x02]);

    /// <summary>MatMulInteger with weights of 100: refused for the int16 saturation hazard.</summary>
    private string Refused => Write("refused.onnx", new OnnxModel(9, [new OpsetImport("", 17)], new OnnxGraph("g",
        [new OnnxNode("mm", "MatMulInteger", "", ["x", "w"], ["y"], [])],
        [new OnnxTensor("w", Tensor.Create<sbyte>(TensorElementType.Int8, [4, 2], Enumerable.Repeat((sbyte)100, 8).ToArray()))],
        [new OnnxValueInfo("x", (int)TensorElementType.UInt8, [OnnxDim.Fixed(1), OnnxDim.Fixed(4)])],
        [new OnnxValueInfo("y", (int)TensorElementType.Int32, [OnnxDim.Fixed(1), OnnxDim.Fixed(2)])],
        [])).ToBytes());

    /// <summary>Relu on int16: admitted, but ONNX Runtime's CPU provider has no kernel for it.</summary>
    private string NoOrtKernel => Write("relu16.onnx", new OnnxModel(8, [new OpsetImport("", 14)], new OnnxGraph("g",
        [new OnnxNode("relu", "Relu", "", ["x"], ["y"], [])], [],
        [new OnnxValueInfo("x", (int)TensorElementType.Int16, [OnnxDim.Fixed(3)])],
        [new OnnxValueInfo("y", (int)TensorElementType.Int16, [OnnxDim.Fixed(3)])],
        [])).ToBytes());

    private string WrongType => Write("int8.bin", Canonical.Encode(Tensor.Create(TensorElementType.Int8, [1, 1, 28, 28], new byte[784])));
    private string WrongShape => Write("flat.bin", Canonical.Encode(Tensor.Create(TensorElementType.UInt8, [1, 784], new byte[784])));

    /// <summary>An ONNX TensorProto of float16 (data_type 10), which the chain does not read.</summary>
    private string Float16 => Write("half.pb", [0x08, 0x03, 0x10, 0x0a, 0x4a, 0x06, 0, 0x3c, 0, 0x3c, 0, 0x3c]);

    private static void AssertOneLineError(CliHarness.Outcome outcome, string expected)
    {
        Assert.True(outcome.ExitCode != 0, $"exit 0; stdout: {outcome.Output}");
        var lines = outcome.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one stderr line, got:\n{outcome.Error}");
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        // A bad input is the user's error, not a bug: no stack frames, and not reported as unexpected.
        Assert.DoesNotContain("   at ", outcome.Error + outcome.Output);
        Assert.DoesNotContain("unexpected", lines[0]);
    }

    [Fact]
    public void Infer_reports_each_bad_model_and_input_in_one_line()
    {
        AssertOneLineError(CliHarness.Run("infer", "--model", Missing, "--input", "random:1"), "cannot read model file");
        AssertOneLineError(CliHarness.Run("infer", "--model", _dir, "--input", "random:1"), "cannot read model file");
        AssertOneLineError(CliHarness.Run("infer", "--model", Truncated, "--input", "random:1"), "[format]");
        AssertOneLineError(CliHarness.Run("infer", "--model", Garbage, "--input", "random:1"), "model refused");
        AssertOneLineError(CliHarness.Run("infer", "--model", Refused, "--input", "random:1"), "[saturation]");
        AssertOneLineError(CliHarness.Run("infer", "--model", Mlp, "--input", Missing), "no such input file");
        AssertOneLineError(CliHarness.Run("infer", "--model", Mlp, "--input", Float16), "data type 10");
        AssertOneLineError(CliHarness.Run("infer", "--model", Mlp, "--input", "random:x"), "must be an integer");
        AssertOneLineError(CliHarness.Run("infer", "--model", NoOrtKernel, "--input", "random:1", "--executor", "ort"), "ONNX Runtime refused the model");
    }

    [Theory]
    [InlineData("canonical")]
    [InlineData("ort")]
    public void Infer_refuses_a_wrong_type_or_shape_alike_under_both_executors(string executor)
    {
        AssertOneLineError(CliHarness.Run("infer", "--model", Mlp, "--input", WrongType, "--executor", executor),
            "input 'image' is int8[1,1,28,28], expected uint8[1,1,28,28]");
        AssertOneLineError(CliHarness.Run("infer", "--model", Mlp, "--input", WrongShape, "--executor", executor),
            "input 'image' is uint8[1,784], expected uint8[1,1,28,28]");
    }

    [Fact]
    public void Model_check_reports_each_bad_model_in_one_line()
    {
        AssertOneLineError(CliHarness.Run("model", "check", Missing), "no such file");
        AssertOneLineError(CliHarness.Run("model", "check", Truncated), "model refused: [format]");
        AssertOneLineError(CliHarness.Run("model", "check", Garbage), "model refused: [format]");
        AssertOneLineError(CliHarness.Run("model", "check", Refused, "--json"), "model refused: [saturation] mm:");
    }

    [Fact]
    public void Determinism_reports_each_bad_model_in_one_line()
    {
        AssertOneLineError(CliHarness.Run("determinism", "--model", Missing, "--inputs", "1"), "cannot read model file");
        AssertOneLineError(CliHarness.Run("determinism", "--model", Truncated, "--inputs", "1"), "is not admitted: [format]");
        // A well-formed model that admission refuses is measured under ONNX Runtime only, and the output says so.
        var refused = CliHarness.Run("determinism", "--model", Refused, "--inputs", "1", "--no-child", "--warmup-ms", "0");
        Assert.Equal(0, refused.ExitCode);
        Assert.Contains("refused: not admitted: [saturation]", refused.Output);
    }

    [Fact]
    public void Conformance_reports_a_missing_folder_and_unevaluable_cases_in_one_line()
    {
        AssertOneLineError(CliHarness.Run("conformance", "--dir", Missing), "no conformance cases found");
        var cases = Path.Combine(_dir, "cases");
        var broken = Directory.CreateDirectory(Path.Combine(cases, "test_broken")).FullName;
        File.WriteAllBytes(Path.Combine(broken, "model.onnx"), File.ReadAllBytes(Truncated));
        var run = CliHarness.Run("conformance", "--dir", cases);
        AssertOneLineError(run, "1 of 1 cases failed or could not be evaluated: test_broken (Error)");
        Assert.Contains("1 Error", run.Output);
    }

    [Fact]
    public void Register_model_refuses_a_bad_model_locally_in_one_line()
    {
        // An unreachable node: each refusal must come before any call to it.
        const string nowhere = "http://127.0.0.1:1/";
        AssertOneLineError(CliHarness.Run("tx", "register-model", "--model", Missing, "--devnet-key", "account-0", "--node", nowhere), "cannot read model file");
        AssertOneLineError(CliHarness.Run("tx", "register-model", "--model", Truncated, "--devnet-key", "account-0", "--node", nowhere), "admission refused the model: [format]");
        AssertOneLineError(CliHarness.Run("tx", "register-model", "--model", Garbage, "--devnet-key", "account-0", "--node", nowhere), "admission refused the model");
        AssertOneLineError(CliHarness.Run("tx", "register-model", "--model", Refused, "--devnet-key", "account-0", "--node", nowhere), "[saturation]");
    }

    [Fact]
    public void Tx_infer_refuses_an_unknown_model_and_a_wrong_input_in_one_line()
    {
        var mlp = MlpId.ToString();
        AssertOneLineError(CliHarness.Run("tx", "infer", "--model", Hash32.Zero.ToString(), "--digit", "0", "--devnet-key", "account-0", "--node", _url),
            "HTTP 404");
        AssertOneLineError(CliHarness.Run("tx", "infer", "--model", mlp, "--input", WrongType, "--devnet-key", "account-0", "--node", _url),
            $"the input is int8[1,1,28,28]; model {mlp} takes uint8[1,1,28,28]");
        AssertOneLineError(CliHarness.Run("tx", "infer", "--model", mlp, "--input", WrongShape, "--devnet-key", "account-0", "--node", _url),
            "the input is uint8[1,784]");
        AssertOneLineError(CliHarness.Run("tx", "infer", "--model", mlp, "--input", Float16, "--devnet-key", "account-0", "--node", _url),
            "data type 10");
        AssertOneLineError(CliHarness.Run("tx", "infer", "--model", mlp, "--input", Missing, "--devnet-key", "account-0", "--node", _url),
            "no such input file");
        Assert.Equal(0, _node.Mempool.Count);
    }

    [Fact]
    public void An_unexpected_exception_is_one_line_naming_its_type()
    {
        var command = new Command("boom");
        command.SetAction(result => CliApp.Run(result, _ => throw new NullReferenceException("a bug\nwith two lines")));
        var root = new RootCommand { command };
        var error = new StringWriter();
        int code = root.Parse(["boom"]).Invoke(new InvocationConfiguration { Output = new StringWriter(), Error = error });
        Assert.Equal(1, code);
        Assert.Equal("error: unexpected NullReferenceException: a bug with two lines", error.ToString().TrimEnd());
    }
}
