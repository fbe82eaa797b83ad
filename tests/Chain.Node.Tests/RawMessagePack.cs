using System.Buffers;
using MessagePack;

namespace Chain.Node.Tests;

/// <summary>Hand-written MessagePack bytes for hostile-message tests (forms no honest encoder produces).</summary>
internal static class RawMessagePack
{
    public delegate void Writes(ref MessagePackWriter writer);

    // The writer is passed by reference: a copy's buffered bytes would never be flushed.
    public static byte[] Encode(Writes write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        write(ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }
}
