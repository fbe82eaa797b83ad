using Chain.Core.Codec;
using Chain.Core.Protocol;
using MessagePack;

namespace Chain.Core.State;

/// <summary>
/// Where a sealed model's bytes live, under <see cref="StateKeys.ModelLayout"/>: the chunks of <see cref="Owner"/>'s upload
/// (<see cref="StateKeys.ModelChunk"/>, indexes 0 to <see cref="ChunkCount"/> − 1). Encoding: <c>[owner: Address, totalBytes: uint]</c>.
/// </summary>
public sealed class ModelLayout : CanonicalObject<ModelLayout>, ICanonicalObject<ModelLayout>
{
    public ModelLayout(Address owner, int totalBytes)
    {
        if (totalBytes is <= 0 or > ProtocolLimits.MaxModelBytes)
            throw new ArgumentOutOfRangeException(nameof(totalBytes), $"total bytes {totalBytes}: expected 1 to {ProtocolLimits.MaxModelBytes}");
        Owner = owner;
        TotalBytes = totalBytes;
    }

    public Address Owner { get; }
    public int TotalBytes { get; }
    public int ChunkCount => BeginModelUploadBody.ChunksFor(TotalBytes);

    /// <summary>The state key of chunk <paramref name="index"/>.</summary>
    public Hash32 ChunkKey(Hash32 modelId, int index) => StateKeys.ModelChunk(Owner, modelId, (uint)index);

    /// <summary>The length chunk <paramref name="index"/> has.</summary>
    public int ChunkLength(int index) => BeginModelUploadBody.ChunkLength(TotalBytes, index);

    public static string KindName => "model layout";
    public static int MaxEncodedSize => 64;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(2);
        writer.Write(Owner);
        writer.Write((ulong)TotalBytes);
    }

    public static ModelLayout ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(2, "model layout");
        var owner = reader.ReadAddress("owner");
        long at = reader.Offset;
        ulong total = reader.ReadUInt64("total bytes");
        if (total is 0 or > ProtocolLimits.MaxModelBytes)
            throw reader.Error(DecodeError.InvalidValue, $"total bytes {total}: expected 1 to {ProtocolLimits.MaxModelBytes}", at);
        return new ModelLayout(owner, (int)total);
    }
}
