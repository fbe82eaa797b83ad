using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Chain.Inference.Kernels;

/// <summary>
/// Packed B operands, remembered per source tensor. A model's weights are initializers that live as
/// long as the loaded model and never change (tensors are immutable), so packing them once instead of
/// on every call removes the dominant cost of batch-1 inference. Keyed weakly by the tensor object:
/// a transient tensor's packing goes when the tensor does. Packing is a pure function of the tensor's
/// bytes and the path, so a cached result is the same bytes a fresh packing would give.
/// </summary>
internal static class PackedWeightCache
{
    private readonly record struct Key(GemmPath Path, int Offset, int K, int N, int StrideK, int StrideN);

    private static readonly ConditionalWeakTable<Tensor, ConcurrentDictionary<Key, PackedB>> Cache = new();

    /// <summary>Only tensors at least this large are cached; smaller ones pack faster than a lookup pays for.</summary>
    private const int MinBytes = 256;

    public static PackedB Get(Tensor source, int offset, bool signed, int k, int n, int strideK, int strideN, GemmPath path)
    {
        // An arena view is a transient activation whose bytes change: pack it into scratch, never cache it.
        if (source.IsView) return new PackedB(source.Data.Slice(offset), signed, k, n, strideK, strideN, path, scratch: true);
        if ((long)k * n < MinBytes)
            return new PackedB(source.Data.Slice(offset), signed, k, n, strideK, strideN, path, scratch: KernelMemory.Planned);
        var entries = Cache.GetValue(source, static _ => new ConcurrentDictionary<Key, PackedB>());
        var key = new Key(path, offset, k, n, strideK, strideN);
        if (entries.TryGetValue(key, out var packed)) return packed;
        packed = new PackedB(source.Data.Slice(offset), signed, k, n, strideK, strideN, path);
        return entries.GetOrAdd(key, packed);
    }
}
