using System.Runtime.CompilerServices;

namespace Chain.Inference.Kernels;

/// <summary>
/// The odometer over a broadcast output index shared by the binary kernels: advances <paramref name="index"/> over
/// axes <paramref name="lastAxis"/> down to 0 of <paramref name="shape"/> and moves both operand offsets along their
/// strides (0 on broadcast axes), wrapping each axis that reaches its size.
/// </summary>
internal static class BroadcastOdometer
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Advance(int[] index, ReadOnlySpan<int> shape, long[] strideA, long[] strideB, int lastAxis, ref long offsetA, ref long offsetB)
    {
        for (var ax = lastAxis; ax >= 0; ax--)
        {
            index[ax]++;
            offsetA += strideA[ax];
            offsetB += strideB[ax];
            if (index[ax] < shape[ax]) return;
            offsetA -= strideA[ax] * shape[ax];
            offsetB -= strideB[ax] * shape[ax];
            index[ax] = 0;
        }
    }
}
