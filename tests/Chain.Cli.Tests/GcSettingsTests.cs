using System.Text.Json;

namespace Chain.Cli.Tests;

/// <summary>
/// The node's GC settings travel in chain.runtimeconfig.json: without System.GC.ConserveMemory a 30 MB chunked
/// registration left ~400 MiB of freed large-object regions committed (docs/execution.md, "Model cache"), and a
/// 1 MiB chunk transaction's copies belong in gen0, not on the large object heap.
/// </summary>
public sealed class GcSettingsTests
{
    [Fact]
    public void The_chain_executable_asks_the_GC_to_conserve_memory()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "chain.runtimeconfig.json");
        Assert.True(File.Exists(path), $"{path} is missing: the tests run the chain.dll built beside them");
        using var config = JsonDocument.Parse(File.ReadAllText(path));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.True(properties.TryGetProperty("System.GC.ConserveMemory", out var value), "chain.runtimeconfig.json sets no System.GC.ConserveMemory");
        int level = value.ValueKind == JsonValueKind.Number ? value.GetInt32() : int.Parse(value.GetString()!);
        Assert.InRange(level, 5, 9);
        Assert.True(properties.TryGetProperty("System.GC.LOHThreshold", out var threshold), "chain.runtimeconfig.json sets no System.GC.LOHThreshold");
        long bytes = threshold.ValueKind == JsonValueKind.Number ? threshold.GetInt64() : long.Parse(threshold.GetString()!);
        Assert.True(bytes > (1L << 20) + (64 << 10), $"System.GC.LOHThreshold {bytes} puts a 1 MiB chunk transaction on the large object heap");
    }
}
