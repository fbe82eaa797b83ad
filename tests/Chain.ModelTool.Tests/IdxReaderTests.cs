namespace Chain.ModelTool.Tests;

public class IdxReaderTests
{
    [Fact]
    public void Reads_a_valid_file()
    {
        var data = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)i).ToArray();
        var idx = IdxReader.Parse(IdxReader.Write([2, 3, 4], data));
        Assert.Equal([2, 3, 4], idx.Dimensions);
        Assert.Equal(data, idx.Data);
        Assert.Equal(2, idx.Count);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 8 }, "shorter than its 4-byte magic")]
    [InlineData(new byte[] { 1, 0, 8, 1, 0, 0, 0, 1, 7 }, "bad IDX magic")]
    [InlineData(new byte[] { 0, 0, 0x0D, 1, 0, 0, 0, 1, 7, 7, 7, 7 }, "unsupported IDX element type 0x0d")]
    [InlineData(new byte[] { 0, 0, 8, 0 }, "zero dimensions")]
    [InlineData(new byte[] { 0, 0, 8, 2, 0, 0, 0, 1 }, "file ends after 8 bytes")]
    [InlineData(new byte[] { 0, 0, 8, 1, 0, 0, 0, 3, 1, 2 }, "need 3 data bytes but the file has 2")]
    [InlineData(new byte[] { 0, 0, 8, 1, 0, 0, 0, 1, 1, 2 }, "need 1 data bytes but the file has 2")]
    [InlineData(new byte[] { 0, 0, 8, 1, 0, 0, 0, 0 }, "dimension 0 is 0")]
    [InlineData(new byte[] { 0, 0, 8, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1 }, "dimension 0 is 4294967295")]
    public void Refuses_malformed_files_with_the_reason(byte[] bytes, string reason)
    {
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.Parse(bytes));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Read_names_the_file_in_errors()
    {
        var path = Path.Combine(Path.GetTempPath(), $"idx-{Guid.NewGuid():N}");
        File.WriteAllBytes(path, [0, 0, 8, 1, 0, 0, 0, 5, 1]);
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path));
            Assert.StartsWith(path, e.Message);
        }
        finally
        {
            File.Delete(path);
        }
        Assert.Throws<FileNotFoundException>(() => IdxReader.Read(path));
    }

    [Fact]
    public void Image_and_label_sets_must_agree()
    {
        var images = IdxReader.Parse(IdxReader.Write([2, 2, 2], new byte[8]));
        var twoLabels = IdxReader.Parse(IdxReader.Write([2], [3, 9]));
        var set = MnistSet.FromIdx(images, twoLabels);
        Assert.Equal(2, set.Count);
        Assert.Equal(4, set.Pixels);

        var threeLabels = IdxReader.Parse(IdxReader.Write([3], [1, 2, 3]));
        Assert.Contains("2 images but 3 labels", Assert.Throws<InvalidDataException>(() => MnistSet.FromIdx(images, threeLabels)).Message);
        var badLabel = IdxReader.Parse(IdxReader.Write([2], [1, 10]));
        Assert.Contains("label 1 is 10", Assert.Throws<InvalidDataException>(() => MnistSet.FromIdx(images, badLabel)).Message);
        Assert.Contains("3 dimensions", Assert.Throws<InvalidDataException>(() => MnistSet.FromIdx(twoLabels, twoLabels)).Message);
    }
}
