using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Quantization.Preparation;

/// <summary>
/// The mutable graph that preparation rewrites: nodes in order, constants (initializers) by name, declared inputs and
/// outputs. Names used anywhere (subgraphs included) are tracked so that new tensors and nodes get fresh names.
/// </summary>
internal sealed class WorkGraph
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _counter;

    public WorkGraph(OnnxGraph graph, long opset)
    {
        Name = graph.Name;
        Opset = opset;
        Nodes = graph.Nodes.ToList();
        foreach (var t in graph.Initializers) Constants[t.Name] = t.Value;
        Inputs = graph.Inputs.ToList();
        Outputs = graph.Outputs.ToList();
        DeclaredInfo = graph.ValueInfo.ToList();
        foreach (var n in Nodes) CollectNames(n);
        foreach (var v in Inputs.Concat(Outputs)) _names.Add(v.Name);
        foreach (var t in Constants.Keys) _names.Add(t);
    }

    public string Name { get; }
    public long Opset { get; }
    public List<OnnxNode> Nodes { get; set; }
    public Dictionary<string, Tensor> Constants { get; } = new(StringComparer.Ordinal);
    public List<OnnxValueInfo> Inputs { get; }
    public List<OnnxValueInfo> Outputs { get; }
    public List<OnnxValueInfo> DeclaredInfo { get; }

    /// <summary>Called on every <see cref="Rename"/> (pinned quantization parameters follow their tensor).</summary>
    public Action<string, string>? Renamed { get; set; }

    public bool IsConstant(string name) => Constants.ContainsKey(name);
    public bool IsOutput(string name) => Outputs.Any(o => o.Name == name);
    public bool IsInput(string name) => Inputs.Any(o => o.Name == name);

    /// <summary>A name not used anywhere in the model, based on <paramref name="stem"/>.</summary>
    public string Fresh(string stem)
    {
        var name = stem;
        while (!_names.Add(name)) name = $"{stem}_p{++_counter}";
        return name;
    }

    public string AddConstant(string stem, Tensor value)
    {
        var name = Fresh(stem);
        Constants[name] = value;
        return name;
    }

    private void CollectNames(OnnxNode n)
    {
        if (n.Name.Length > 0) _names.Add(n.Name);
        foreach (var o in n.Outputs) _names.Add(o);
        foreach (var i in n.Inputs) _names.Add(i);
        foreach (var a in n.Attributes)
        {
            if (a.G is not { } g) continue;
            foreach (var sn in g.Nodes) CollectNames(sn);
            foreach (var t in g.Initializers) _names.Add(t.Name);
            foreach (var v in g.Inputs.Concat(g.Outputs)) _names.Add(v.Name);
        }
    }

    /// <summary>Every name a node reads: its inputs and the outer-scope names its subgraphs read.</summary>
    public static IEnumerable<string> Reads(OnnxNode n)
    {
        foreach (var i in n.Inputs) if (i.Length > 0) yield return i;
        foreach (var a in n.Attributes)
            if (a.G is { } g)
                foreach (var f in FreeNames(g)) yield return f;
    }

    /// <summary>Names a subgraph reads from enclosing scopes.</summary>
    public static HashSet<string> FreeNames(OnnxGraph g)
    {
        var defined = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in g.Initializers) defined.Add(t.Name);
        foreach (var v in g.Inputs) defined.Add(v.Name);
        foreach (var n in g.Nodes) foreach (var o in n.Outputs) defined.Add(o);
        var free = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in g.Nodes)
            foreach (var r in Reads(n))
                if (!defined.Contains(r)) free.Add(r);
        foreach (var o in g.Outputs) if (!defined.Contains(o.Name)) free.Add(o.Name);
        return free;
    }

    /// <summary>Consumers of each name (a node appears once per name it reads).</summary>
    public Dictionary<string, List<OnnxNode>> Consumers()
    {
        var map = new Dictionary<string, List<OnnxNode>>(StringComparer.Ordinal);
        foreach (var n in Nodes)
            foreach (var r in Reads(n).Distinct())
            {
                if (!map.TryGetValue(r, out var list)) map[r] = list = [];
                list.Add(n);
            }
        return map;
    }

    public Dictionary<string, OnnxNode> Producers()
    {
        var map = new Dictionary<string, OnnxNode>(StringComparer.Ordinal);
        foreach (var n in Nodes) foreach (var o in n.Outputs) if (o.Length > 0) map[o] = n;
        return map;
    }

    /// <summary>Replaces every read of <paramref name="from"/> (subgraphs included) and graph outputs named so.</summary>
    public void Rename(string from, string to)
    {
        Renamed?.Invoke(from, to);
        for (var i = 0; i < Nodes.Count; i++) Nodes[i] = RenameIn(Nodes[i], from, to, outputsToo: true);
        for (var i = 0; i < Outputs.Count; i++) if (Outputs[i].Name == from) Outputs[i] = Outputs[i] with { Name = to };
        if (Constants.Remove(from, out var t)) Constants[to] = t;
    }

    private static OnnxNode RenameIn(OnnxNode n, string from, string to, bool outputsToo)
    {
        var touches = n.Inputs.Contains(from) || (outputsToo && n.Outputs.Contains(from)) || n.Attributes.Any(a => a.G is not null);
        if (!touches) return n;
        return n with
        {
            Inputs = n.Inputs.Select(i => i == from ? to : i).ToArray(),
            Outputs = outputsToo ? n.Outputs.Select(o => o == from ? to : o).ToArray() : n.Outputs,
            Attributes = n.Attributes.Select(a => a.G is { } g ? a with { G = RenameFree(g, from, to) } : a).ToArray(),
        };
    }

    private static OnnxGraph RenameFree(OnnxGraph g, string from, string to)
    {
        // A subgraph that defines the name itself shadows the outer one.
        if (g.Initializers.Any(t => t.Name == from) || g.Inputs.Any(v => v.Name == from) || g.Nodes.Any(n => n.Outputs.Contains(from))) return g;
        return g with
        {
            Nodes = g.Nodes.Select(n => RenameIn(n, from, to, outputsToo: false)).ToArray(),
            Outputs = g.Outputs.Select(o => o.Name == from ? o with { Name = to } : o).ToArray(),
        };
    }

    /// <summary>
    /// Removes <paramref name="node"/>, whose output <paramref name="alias"/> equals <paramref name="source"/>, and makes
    /// readers of the alias read the source. When the alias is a graph output the source takes its name instead;
    /// false (and nothing changed) when neither can be renamed (both are graph interface names).
    /// </summary>
    public bool Bypass(OnnxNode node, string alias, string source)
    {
        if (IsOutput(alias))
        {
            if (IsOutput(source) || IsInput(source)) return false;
            Nodes.Remove(node);
            Rename(source, alias);
            return true;
        }
        Nodes.Remove(node);
        Rename(alias, source);
        return true;
    }

    /// <summary>Drops nodes whose outputs nobody reads and constants nobody reads; the count of nodes removed.</summary>
    public int RemoveDead()
    {
        var removed = 0;
        while (true)
        {
            var live = new HashSet<string>(Outputs.Select(o => o.Name), StringComparer.Ordinal);
            foreach (var n in Nodes) foreach (var r in Reads(n)) live.Add(r);
            var dead = Nodes.Where(n => !n.Outputs.Any(o => o.Length > 0 && live.Contains(o))).ToList();
            if (dead.Count == 0)
            {
                foreach (var c in Constants.Keys.Where(c => !live.Contains(c)).ToList()) Constants.Remove(c);
                return removed;
            }
            foreach (var d in dead) Nodes.Remove(d);
            removed += dead.Count;
        }
    }

    /// <summary>Orders nodes topologically (Kahn, lowest current index first), so the file order is valid ONNX.</summary>
    public void SortTopologically()
    {
        var producers = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < Nodes.Count; i++) foreach (var o in Nodes[i].Outputs) if (o.Length > 0) producers[o] = i;
        var pending = new int[Nodes.Count];
        var dependents = new List<int>[Nodes.Count];
        for (var i = 0; i < Nodes.Count; i++) dependents[i] = [];
        for (var i = 0; i < Nodes.Count; i++)
            foreach (var r in Reads(Nodes[i]).Distinct())
                if (producers.TryGetValue(r, out var p) && p != i) { pending[i]++; dependents[p].Add(i); }
        var ready = new SortedSet<int>(Enumerable.Range(0, Nodes.Count).Where(i => pending[i] == 0));
        var order = new List<OnnxNode>(Nodes.Count);
        while (ready.Count > 0)
        {
            var i = ready.Min;
            ready.Remove(i);
            order.Add(Nodes[i]);
            foreach (var d in dependents[i]) if (--pending[d] == 0) ready.Add(d);
        }
        if (order.Count != Nodes.Count)
        {
            var stuck = Nodes.First((n, i) => pending[i] > 0);
            throw new QuantizationException(Describe(stuck), "the graph has a cycle through this node");
        }
        Nodes = order;
    }

    public static string Describe(OnnxNode n) => n.Name.Length > 0 ? $"{n.Name} ({n.OpType})" : n.DisplayName;
}

internal static class NodeExtensions
{
    public static OnnxNode First(this List<OnnxNode> nodes, Func<OnnxNode, int, bool> predicate)
    {
        for (var i = 0; i < nodes.Count; i++) if (predicate(nodes[i], i)) return nodes[i];
        throw new InvalidOperationException("no node matches");
    }

    public static OnnxNode WithAttribute(this OnnxNode n, OnnxAttribute a) =>
        n with { Attributes = n.Attributes.Where(x => x.Name != a.Name).Append(a).ToArray() };

    public static OnnxNode WithoutAttribute(this OnnxNode n, string name) =>
        n with { Attributes = n.Attributes.Where(x => x.Name != name).ToArray() };
}

/// <summary>Conversions between <see cref="Tensor"/> and plain arrays.</summary>
internal static class Tx
{
    public static int[] Shape(Tensor t) => t.Shape.ToArray();

    public static long[] LongShape(Tensor t) => t.Shape.ToArray().Select(d => (long)d).ToArray();

    public static float[] Floats(Tensor t) => t.ElementType switch
    {
        TensorElementType.Float => t.Elements<float>().ToArray(),
        TensorElementType.Double => t.Elements<double>().ToArray().Select(d => (float)d).ToArray(),
        _ => Longs(t).Select(v => (float)v).ToArray(),
    };

    public static double[] Doubles(Tensor t) => t.ElementType switch
    {
        TensorElementType.Float => t.Elements<float>().ToArray().Select(f => (double)f).ToArray(),
        TensorElementType.Double => t.Elements<double>().ToArray(),
        _ => Longs(t).Select(v => (double)v).ToArray(),
    };

    public static long[] Longs(Tensor t) => t.ElementType switch
    {
        TensorElementType.Int64 => t.Elements<long>().ToArray(),
        TensorElementType.Int32 => t.Elements<int>().ToArray().Select(v => (long)v).ToArray(),
        TensorElementType.Int16 => t.Elements<short>().ToArray().Select(v => (long)v).ToArray(),
        TensorElementType.UInt16 => t.Elements<ushort>().ToArray().Select(v => (long)v).ToArray(),
        TensorElementType.Int8 => t.Elements<sbyte>().ToArray().Select(v => (long)v).ToArray(),
        TensorElementType.UInt8 or TensorElementType.Bool => t.Elements<byte>().ToArray().Select(v => (long)v).ToArray(),
        TensorElementType.UInt32 => t.Elements<uint>().ToArray().Select(v => (long)v).ToArray(),
        TensorElementType.UInt64 => t.Elements<ulong>().ToArray().Select(v => (long)v).ToArray(),
        _ => throw new InvalidOperationException($"{t} is not an integer tensor"),
    };

    public static Tensor Float(int[] shape, float[] values) => Tensor.Create<float>(TensorElementType.Float, shape, values);

    public static Tensor Int64(int[] shape, long[] values) => Tensor.Create<long>(TensorElementType.Int64, shape, values);

    /// <summary>Reads element <paramref name="i"/> as double, for broadcastable per-channel parameters of size 1 or n.</summary>
    public static double At(double[] values, int i) => values.Length == 1 ? values[0] : values[i];
}
