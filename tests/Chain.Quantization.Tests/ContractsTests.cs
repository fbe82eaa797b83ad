using Xunit;

namespace Chain.Quantization.Tests;

public class ContractsTests
{
    [Fact]
    public void A_refusal_names_where_and_why_in_one_line()
    {
        var e = new QuantizationException("Conv_3 (Conv)", "dilations [2,2] with group 4 is not supported");
        Assert.Equal("Conv_3 (Conv): dilations [2,2] with group 4 is not supported", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
