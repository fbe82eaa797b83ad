using Chain.Cli.Commands;

namespace Chain.Cli.Tests;

/// <summary>`chain bench network`'s argument checks: every refusal names its option and starts nothing (no floor, no node).</summary>
public sealed class BenchNetworkArgumentTests
{
    [Theory]
    [InlineData("--validators", "4,x")]
    [InlineData("--validators", "")]
    [InlineData("--validators", "4,,7")]
    [InlineData("--validators", "0")]
    [InlineData("--validators", "17")]
    [InlineData("--validators", "-4")]
    [InlineData("--validators", "4,4")]
    [InlineData("--mix", "transfer")]
    [InlineData("--mix", "")]
    [InlineData("--rate", "0")]
    [InlineData("--rate", "-5")]
    [InlineData("--rate", "100,abc")]
    [InlineData("--rate", "50,50")]
    [InlineData("--rate", "1e9")]
    [InlineData("--txs", "0")]
    [InlineData("--min-block-interval-ms", "3000")]
    [InlineData("--batch", "0")]
    [InlineData("--batch", "257")]
    [InlineData("--warmup", "-1")]
    public void Bad_arguments_are_refused_with_a_message_and_nothing_starts(string option, string value)
    {
        var outcome = CliHarness.Run("bench", "network", option, value);
        Assert.Equal(1, outcome.ExitCode);
        Assert.StartsWith("error: ", outcome.Error);
        Assert.Contains(option, outcome.Error);
        Assert.Single(outcome.Error.TrimEnd().Split('\n'));
        Assert.DoesNotContain("measuring", outcome.Output);
    }

    [Fact]
    public void Lists_parse_with_spaces_and_rates_come_out_ascending()
    {
        Assert.Equal([4, 7, 10], BenchNetworkCommand.ParseValidators("4, 7,10"));
        Assert.Equal([1], BenchNetworkCommand.ParseValidators("1"));
        Assert.Equal([12.5, 50, 200], BenchNetworkCommand.ParseRates("200,12.5, 50"));
        Assert.Empty(BenchNetworkCommand.ParseRates(null));
        Assert.Equal(BenchMix.Infer, BenchNetworkCommand.ParseMix("infer"));
    }
}
