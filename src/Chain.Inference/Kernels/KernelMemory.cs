using System.Runtime.InteropServices;

namespace Chain.Inference.Kernels;

/// <summary>
/// Where a kernel's output and scratch memory come from. Outside an executor run (tests, tools) every
/// request is a fresh array. Inside <see cref="Enter"/> — the canonical executor running one node from
/// its static memory plan — the output is the node's planned slot in the run's arena and scratch is
/// bump-allocated from the node's planned workspace, so a run allocates nothing of data size and cannot
/// use more than admission proved: a request beyond the plan throws (a planning bug, never a silent
/// allocation). Kernels are single-threaded, so the scope is per thread.
/// </summary>
internal static class KernelMemory
{
    internal sealed class Scope
    {
        public Memory<byte> Output;
        public TensorElementType OutputType;
        public int[] OutputShape = [];
        public bool OutputTaken;
        public Memory<byte> Workspace;
        public int WorkspaceUsed;
        public int WorkspaceHighWater;
    }

    [ThreadStatic] private static Scope? _current;
    [ThreadStatic] private static Scope? _spare; // reused, so entering a node allocates nothing

    /// <summary>Whether a planned run is in progress on this thread.</summary>
    public static bool Planned => _current is not null;

    /// <summary>
    /// Starts one node's planned execution: its output (of the planned type and shape) at <paramref name="output"/>,
    /// its scratch within <paramref name="workspace"/>. Dispose ends it.
    /// </summary>
    public static NodeScope Enter(Memory<byte> output, TensorElementType outputType, int[] outputShape, Memory<byte> workspace)
    {
        if (_current is not null) throw new InvalidOperationException("kernel memory scopes do not nest");
        var scope = _spare ?? new Scope();
        _spare = null;
        scope.Output = output;
        scope.OutputType = outputType;
        scope.OutputShape = outputShape;
        scope.OutputTaken = false;
        scope.Workspace = workspace;
        scope.WorkspaceUsed = 0;
        scope.WorkspaceHighWater = 0;
        _current = scope;
        return new NodeScope(scope);
    }

    public readonly struct NodeScope : IDisposable
    {
        private readonly Scope _scope;

        internal NodeScope(Scope scope) => _scope = scope;

        /// <summary>Scratch bytes the node used at most (for the measured-peak check).</summary>
        public int WorkspaceHighWater => _scope.WorkspaceHighWater;

        public bool OutputTaken => _scope.OutputTaken;

        public void Dispose()
        {
            _current = null;
            _spare = _scope;
        }
    }

    /// <summary>
    /// The output tensor of the running kernel, zero-filled. In a planned run, the type and shape must be
    /// the planned ones and the output may be taken once.
    /// </summary>
    public static Tensor Output(TensorElementType type, int[] shape, out Span<byte> data)
    {
        var scope = _current;
        if (scope is null)
        {
            var bytes = new byte[KernelArgs.CheckedCount("output", KernelArgs.Product(shape) * TensorElementTypes.SizeOf(type))];
            data = bytes;
            return Tensor.Wrap(type, shape, bytes);
        }
        if (scope.OutputTaken) throw new InferenceException("kernel asked for a second output buffer");
        if (type != scope.OutputType || !shape.AsSpan().SequenceEqual(scope.OutputShape))
            throw new InferenceException(
                $"kernel output {TensorElementTypes.Name(type)}[{string.Join(",", shape)}] differs from the planned {TensorElementTypes.Name(scope.OutputType)}[{string.Join(",", scope.OutputShape)}]");
        scope.OutputTaken = true;
        var memory = scope.Output;
        memory.Span.Clear();
        data = memory.Span;
        return Tensor.View(type, scope.OutputShape, memory);
    }

    /// <summary>The output as typed elements.</summary>
    public static Tensor Output<T>(TensorElementType type, int[] shape, out Span<T> elements) where T : unmanaged
    {
        var t = Output(type, shape, out Span<byte> data);
        elements = MemoryMarshal.Cast<byte, T>(data);
        return t;
    }

    /// <summary>Zero-filled scratch of <paramref name="count"/> elements, valid until the kernel returns.</summary>
    public static Memory<byte> Scratch(long bytes)
    {
        var scope = _current;
        if (bytes < 0 || bytes > int.MaxValue) throw new InferenceException("scratch request is too large");
        if (scope is null) return new byte[bytes];
        // Keep every piece aligned like the plan's buffers.
        var start = (scope.WorkspaceUsed + 63) & ~63;
        if (start + bytes > scope.Workspace.Length)
            throw new InferenceException(
                $"kernel needs {start + bytes} bytes of scratch, more than the {scope.Workspace.Length} admission planned");
        scope.WorkspaceUsed = (int)(start + bytes);
        scope.WorkspaceHighWater = Math.Max(scope.WorkspaceHighWater, scope.WorkspaceUsed);
        var memory = scope.Workspace.Slice(start, (int)bytes);
        memory.Span.Clear();
        return memory;
    }

    /// <summary>The scratch position now; <see cref="Release"/> frees everything taken after it (stack discipline).</summary>
    public static int Mark() => _current?.WorkspaceUsed ?? 0;

    public static void Release(int mark)
    {
        if (_current is { } scope && mark <= scope.WorkspaceUsed) scope.WorkspaceUsed = mark;
    }

    /// <summary>Typed zero-filled scratch.</summary>
    public static Span<T> Scratch<T>(long count) where T : unmanaged =>
        MemoryMarshal.Cast<byte, T>(Scratch(count * Marshal.SizeOf<T>()).Span);
}
