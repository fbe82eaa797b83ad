using Chain.Fuzz;

namespace Chain.Fuzz.Tests;

/// <summary>
/// A short seeded mutation run of every fuzz target (the long campaigns are `make fuzz`): no finding, and the mutations
/// really reach accepting code (a run where nothing decodes would test nothing).
/// </summary>
public class FuzzTargetTests
{
    public static TheoryData<string> Targets() => new(FuzzTargets.All.Select(t => t.Name));

    [Theory]
    [MemberData(nameof(Targets))]
    public void Seeded_mutations_find_nothing_and_reach_accepting_code(string name)
    {
        const int seed = 20261207;
        var target = FuzzTargets.Get(name);
        var seeds = Seeds.For(name);
        Assert.All(seeds, s => Assert.True(target.Run(s), $"a seed of {name} is not accepted"));
        int iterations = name == "model" ? 300 : 3000;
        var result = SmokeRun.Run(target, seeds, iterations, seed);
        var first = result.Findings.FirstOrDefault();
        Assert.True(result.Findings.Count == 0,
            $"{name}, seed {seed}: iteration {first.Iteration}: {first.Error?.GetType().Name}: {first.Error?.Message} " +
            $"(reproduce: chain-fuzz smoke {name} {iterations} {seed})");
        Assert.True(result.Accepted > 0, $"{name}: none of {iterations} mutations was accepted");
    }

    [Fact]
    public void A_decoder_that_does_not_round_trip_is_reported_with_its_input()
    {
        // A target that accepts a byte it would re-encode differently stands for a lax decoder.
        var lax = new FuzzTarget("lax", "test", b => b.Length > 0 && b[0] == 0xc0 ? throw new FuzzFinding("re-encodes differently") : true);
        var result = SmokeRun.Run(lax, [[1, 2, 3]], 5000, seed: 3);
        Assert.NotEmpty(result.Findings);
        Assert.All(result.Findings, f => Assert.Equal(0xc0, f.Input[0]));
    }

    [Fact]
    public void The_same_seed_gives_the_same_inputs()
    {
        var a = new Mutator(9);
        var b = new Mutator(9);
        byte[][] corpus = [[1, 2, 3, 4, 5], [0x92, 0x01, 0x02]];
        for (int i = 0; i < 100; i++) Assert.Equal(a.Mutate(corpus), b.Mutate(corpus));
    }

    [Fact]
    public void An_unknown_target_is_refused_with_the_known_names()
    {
        var e = Assert.Throws<ArgumentException>(() => FuzzTargets.Get("nope"));
        Assert.Contains("transaction", e.Message);
    }
}
