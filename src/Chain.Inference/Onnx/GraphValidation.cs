namespace Chain.Inference.Onnx;

/// <summary>A structural problem in a graph, naming the node when there is one.</summary>
public sealed record GraphIssue(string Code, string Message, string? Node);

/// <summary>The result of <see cref="GraphValidation.Check"/>: an execution order (node indices) and any issues.</summary>
public sealed record GraphCheck(IReadOnlyList<int> Order, IReadOnlyList<GraphIssue> Issues)
{
    public bool Ok => Issues.Count == 0;
}

/// <summary>
/// Structural checks every executor relies on: each value has exactly one producer (initializer, graph
/// input or node output), every consumed name exists, and the nodes can be ordered so that producers run
/// first. The order is computed (Kahn's algorithm, lowest file index first among ready nodes), so it is
/// unique for a given file and does not depend on the file already being sorted.
/// </summary>
public static class GraphValidation
{
    public static GraphCheck Check(OnnxGraph graph)
    {
        var issues = new List<GraphIssue>();
        // name -> producing node index, or -1 for initializers and graph inputs.
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);

        foreach (var t in graph.Initializers)
        {
            if (t.Name.Length == 0) issues.Add(new("graph", "an initializer has an empty name", null));
            else if (!producer.TryAdd(t.Name, -1)) issues.Add(new("graph", $"initializer name '{t.Name}' is used twice", null));
        }
        var initNames = graph.Initializers.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var inputNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var v in graph.Inputs)
        {
            if (v.Name.Length == 0) issues.Add(new("graph", "a graph input has an empty name", null));
            else if (!inputNames.Add(v.Name)) issues.Add(new("graph", $"graph input '{v.Name}' is declared twice", null));
            // An input that is also an initializer is an overridable default (IR < 4): its value would
            // depend on the caller, so the subset refuses the ambiguity.
            else if (initNames.Contains(v.Name)) issues.Add(new("graph", $"graph input '{v.Name}' is also an initializer (an overridable default)", null));
            else producer[v.Name] = -1;
        }

        var nodes = graph.Nodes;
        for (var i = 0; i < nodes.Count; i++)
        {
            foreach (var o in nodes[i].Outputs)
            {
                if (o.Length == 0) continue; // an unused optional output
                if (!producer.TryAdd(o, i))
                    issues.Add(new("graph", $"value '{o}' is produced more than once", nodes[i].DisplayName));
            }
        }

        // Edges: node -> nodes that consume one of its outputs.
        var consumers = new List<int>[nodes.Count];
        var pending = new int[nodes.Count];
        for (var i = 0; i < nodes.Count; i++) consumers[i] = [];
        for (var i = 0; i < nodes.Count; i++)
        {
            var seen = new HashSet<int>();
            foreach (var input in nodes[i].Inputs)
            {
                if (input.Length == 0) continue; // omitted optional input
                if (!producer.TryGetValue(input, out var p))
                {
                    issues.Add(new("graph", $"input '{input}' is not produced by any initializer, graph input or node", nodes[i].DisplayName));
                    continue;
                }
                if (p >= 0 && seen.Add(p))
                {
                    consumers[p].Add(i);
                    pending[i]++;
                }
            }
        }
        foreach (var v in graph.Outputs)
        {
            if (v.Name.Length == 0) issues.Add(new("graph", "a graph output has an empty name", null));
            else if (!producer.ContainsKey(v.Name)) issues.Add(new("graph", $"graph output '{v.Name}' is not produced by anything", null));
        }

        var ready = new SortedSet<int>();
        for (var i = 0; i < nodes.Count; i++) if (pending[i] == 0) ready.Add(i);
        var order = new List<int>(nodes.Count);
        while (ready.Count > 0)
        {
            var n = ready.Min;
            ready.Remove(n);
            order.Add(n);
            foreach (var c in consumers[n])
                if (--pending[c] == 0) ready.Add(c);
        }
        if (order.Count < nodes.Count)
        {
            // Walk back through unordered producers until a node repeats: that node lies on a cycle
            // (the first unordered node may only sit downstream of one).
            var stuck = Enumerable.Range(0, nodes.Count).First(i => pending[i] > 0);
            var visited = new HashSet<int>();
            while (visited.Add(stuck))
            {
                foreach (var input in nodes[stuck].Inputs)
                {
                    if (input.Length > 0 && producer.TryGetValue(input, out var p) && p >= 0 && pending[p] > 0)
                    {
                        stuck = p;
                        break;
                    }
                }
            }
            issues.Add(new("cycle", $"the graph has a cycle through node {nodes[stuck].DisplayName} ({nodes.Count - order.Count} nodes cannot be ordered)", nodes[stuck].DisplayName));
        }
        return new GraphCheck(order, issues);
    }
}
