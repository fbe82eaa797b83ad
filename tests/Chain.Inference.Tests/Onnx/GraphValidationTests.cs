using Chain.Inference.Onnx;
using static Chain.Inference.Tests.Onnx.Models;

namespace Chain.Inference.Tests.Onnx;

public class GraphValidationTests
{
    private static OnnxGraph Graph(OnnxNode[] nodes, string[]? inputs = null, string[]? outputs = null, OnnxTensor[]? inits = null) =>
        new("g", nodes, inits ?? [], (inputs ?? ["x"]).Select(n => Value(n, TensorElementType.Int8, 1)).ToArray(),
            (outputs ?? ["y"]).Select(n => Value(n, TensorElementType.Int8, 1)).ToArray(), []);

    [Fact]
    public void Order_is_computed_even_when_the_file_is_not_sorted()
    {
        var g = Graph([Node("Relu", ["a"], ["y"]), Node("Relu", ["x"], ["a"])]);
        var check = GraphValidation.Check(g);
        Assert.True(check.Ok);
        Assert.Equal([1, 0], check.Order);
    }

    [Fact]
    public void Cycles_are_refused_naming_a_node_on_the_cycle()
    {
        var g = Graph([
            Node("Relu", ["x"], ["pre"]),
            Node("Add", ["pre", "c"], ["b"]),
            Node("Relu", ["b"], ["c"]),
            Node("Relu", ["c"], ["y"]),
        ]);
        var check = GraphValidation.Check(g);
        var issue = Assert.Single(check.Issues);
        Assert.Equal("cycle", issue.Code);
        Assert.Contains(issue.Node, new[] { "add_b", "relu_c" });
    }

    [Fact]
    public void Undefined_inputs_and_duplicate_outputs_are_refused()
    {
        var g = Graph([Node("Relu", ["nope"], ["y"]), Node("Relu", ["x"], ["y"])]);
        var issues = GraphValidation.Check(g).Issues;
        Assert.Contains(issues, i => i.Message.Contains("'nope' is not produced"));
        Assert.Contains(issues, i => i.Message.Contains("'y' is produced more than once"));
    }

    [Fact]
    public void Empty_names_mean_omitted_optional_inputs()
    {
        var g = Graph([Node("Clip", ["x", "", "hi"], ["y"])], inits: [Int8("hi", [], 5)]);
        Assert.True(GraphValidation.Check(g).Ok);
    }

    [Fact]
    public void Outputs_must_be_produced_and_inputs_unique()
    {
        var g = Graph([Node("Relu", ["x"], ["y"])], inputs: ["x", "x"], outputs: ["y", "z"]);
        var issues = GraphValidation.Check(g).Issues;
        Assert.Contains(issues, i => i.Message.Contains("'x' is declared twice"));
        Assert.Contains(issues, i => i.Message.Contains("'z' is not produced"));
    }

    [Fact]
    public void Input_that_is_also_an_initializer_is_refused()
    {
        var g = Graph([Node("Relu", ["x"], ["y"])], inits: [Int8("x", [1], 1)]);
        Assert.Contains(GraphValidation.Check(g).Issues, i => i.Message.Contains("overridable"));
    }
}
