using System.Globalization;
using Chain.Core.Codec;

namespace Chain.Light.Sync;

/// <summary>A trusted store file that cannot be read back: named, with why.</summary>
public sealed class LightStoreException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The light blocks a client has verified, one file per height in a directory: <c>{height:D20}.lightblock</c> holding
/// the canonical <see cref="LightBlock"/> encoding. Writes are atomic (a temporary file renamed over the target), and
/// the store keeps at most <see cref="MaxBlocks"/> blocks, pruning the lowest heights first (the latest always stays).
/// A file that does not decode, or whose name and height disagree, is an error naming the file: never skipped.
/// </summary>
public sealed class LightStore
{
    public const string Extension = ".lightblock";
    public const int DefaultMaxBlocks = 1000;

    public LightStore(string directory, int maxBlocks = DefaultMaxBlocks)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (maxBlocks < 1) throw new ArgumentOutOfRangeException(nameof(maxBlocks), "the store keeps at least one block");
        Directory = directory;
        MaxBlocks = maxBlocks;
        System.IO.Directory.CreateDirectory(directory);
    }

    public string Directory { get; }
    public int MaxBlocks { get; }

    /// <summary>Stored heights, ascending.</summary>
    public IReadOnlyList<ulong> Heights()
    {
        var heights = new List<ulong>();
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "*" + Extension))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            if (name.Length != 20 || !ulong.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var h) || h == 0)
                throw new LightStoreException($"light store: unexpected file '{path}' (names are the height in 20 digits)");
            heights.Add(h);
        }
        heights.Sort();
        return heights;
    }

    public LightBlock? Latest() => Heights() is { Count: > 0 } hs ? Load(hs[^1]) : null;

    /// <summary>The stored block at <paramref name="height"/>, or null.</summary>
    public LightBlock? Load(ulong height)
    {
        var path = PathOf(height);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (FileNotFoundException) { return null; }
        if (!Canonical.TryDecode<LightBlock>(bytes, out var block, out var error))
            throw new LightStoreException($"light store file '{path}' is corrupt: {error!.Message}", error);
        if (block!.Height != height)
            throw new LightStoreException($"light store file '{path}' holds height {block.Height}, its name says {height}");
        return block;
    }

    /// <summary>The highest stored block at or below <paramref name="height"/>, or null.</summary>
    public LightBlock? LatestAtOrBelow(ulong height) => Heights().Where(h => h <= height).Select(h => (ulong?)h).LastOrDefault() is { } at ? Load(at) : null;

    /// <summary>The lowest stored block above <paramref name="height"/>, or null.</summary>
    public LightBlock? LowestAbove(ulong height) => Heights().Where(h => h > height).Select(h => (ulong?)h).FirstOrDefault() is { } at ? Load(at) : null;

    /// <summary>Stores <paramref name="block"/> atomically, then prunes the lowest heights beyond <see cref="MaxBlocks"/>.</summary>
    public void Save(LightBlock block)
    {
        ArgumentNullException.ThrowIfNull(block);
        var path = PathOf(block.Height);
        var temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(block.Encoded.Span);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
        var heights = Heights();
        for (int i = 0; i < heights.Count - MaxBlocks; i++) File.Delete(PathOf(heights[i]));
    }

    private string PathOf(ulong height) => Path.Combine(Directory, height.ToString("D20", CultureInfo.InvariantCulture) + Extension);
}
