using System.Runtime.InteropServices;

namespace Chain.Inference.Runtime;

/// <summary>The declared type and static shape of one graph input.</summary>
public sealed record TensorSpec(string Name, TensorElementType ElementType, int[] Shape)
{
    public override string ToString() => $"{Name}: {TensorElementTypes.Name(ElementType)}[{string.Join(",", Shape)}]";
}

/// <summary>Kinds of generated input, from plain random to the values most likely to expose a non-exact kernel.</summary>
public enum InputPattern
{
    /// <summary>Uniform random over the element type's whole range.</summary>
    Random,
    /// <summary>Every element at the type's maximum (u8 255, s8 127): largest accumulators.</summary>
    AllMax,
    /// <summary>Every element at the type's minimum (s8 -128).</summary>
    AllMin,
    /// <summary>Alternating minimum and maximum: worst case for pairwise int16 saturation.</summary>
    Alternating,
    /// <summary>Random values drawn only from the two extremes.</summary>
    RandomExtremes,
    /// <summary>All zero.</summary>
    Zeros,
}

/// <summary>
/// Deterministic input tensors for a model's input specs: the same seed and pattern always give the
/// same bytes on every machine (System.Random with a seed is a fixed algorithm in .NET).
/// </summary>
public static class InputGenerator
{
    public static IReadOnlyList<NamedTensor> Create(IReadOnlyList<TensorSpec> specs, InputPattern pattern, int seed)
    {
        var random = new Random(seed);
        var result = new NamedTensor[specs.Count];
        for (int i = 0; i < specs.Count; i++) result[i] = new NamedTensor(specs[i].Name, Create(specs[i], pattern, random));
        return result;
    }

    public static Tensor Create(TensorSpec spec, InputPattern pattern, Random random)
    {
        long count = 1;
        foreach (var d in spec.Shape) count *= d;
        var size = TensorElementTypes.SizeOf(spec.ElementType);
        var data = new byte[checked(count * size)];
        var (min, max) = Range(spec.ElementType);
        for (long i = 0; i < count; i++)
        {
            long value = pattern switch
            {
                InputPattern.Random => min + (long)(random.NextDouble() * ((double)max - min + 1)),
                InputPattern.AllMax => max,
                InputPattern.AllMin => min,
                InputPattern.Alternating => (i & 1) == 0 ? min : max,
                InputPattern.RandomExtremes => random.Next(2) == 0 ? min : max,
                _ => 0,
            };
            value = Math.Clamp(value, min, max);
            Write(data.AsSpan((int)(i * size), size), spec.ElementType, value);
        }
        return Tensor.Create(spec.ElementType, spec.Shape, data);
    }

    /// <summary>
    /// The type's own range (<see cref="TensorElementTypes.Range"/>) for bool and integers up to 32 bits; 64-bit
    /// and float inputs get a modest symmetric range, which keeps float models finite.
    /// </summary>
    private static (long Min, long Max) Range(TensorElementType type)
    {
        if (type is TensorElementType.Int64 or TensorElementType.UInt64 ||
            !(TensorElementTypes.IsInteger(type) || type == TensorElementType.Bool))
            return (-1000, 1000);
        var (min, max) = TensorElementTypes.Range(type);
        return ((long)min, (long)max);
    }

    private static void Write(Span<byte> destination, TensorElementType type, long value)
    {
        switch (type)
        {
            case TensorElementType.UInt8 or TensorElementType.Int8 or TensorElementType.Bool: destination[0] = (byte)value; break;
            case TensorElementType.UInt16 or TensorElementType.Int16: MemoryMarshal.Write(destination, (short)value); break;
            case TensorElementType.UInt32 or TensorElementType.Int32: MemoryMarshal.Write(destination, (int)value); break;
            case TensorElementType.Float: MemoryMarshal.Write(destination, value / 100f); break;
            case TensorElementType.Double: MemoryMarshal.Write(destination, value / 100d); break;
            default: MemoryMarshal.Write(destination, value); break;
        }
    }
}
