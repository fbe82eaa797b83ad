using System.Diagnostics;

namespace Chain.Fuzz;

/// <summary>What an in-process run of one target found.</summary>
/// <param name="Accepted">Mutated inputs the target accepted (decoded or admitted).</param>
public sealed record SmokeResult(string Target, int Seed, int Iterations, int Accepted, TimeSpan Elapsed, IReadOnlyList<(int Iteration, byte[] Input, Exception Error)> Findings);

/// <summary>Runs a target on seeded mutations of its seed corpus, in this process (no afl++ needed).</summary>
public static class SmokeRun
{
    public static SmokeResult Run(FuzzTarget target, IReadOnlyList<byte[]> corpus, int iterations, int seed, int maxFindings = 10)
    {
        var mutator = new Mutator(seed);
        var findings = new List<(int, byte[], Exception)>();
        var grown = corpus.ToList();
        int accepted = 0;
        var clock = Stopwatch.StartNew();
        foreach (var input in corpus) Check(-1, input);
        for (int i = 0; i < iterations && findings.Count < maxFindings; i++)
        {
            var input = mutator.Mutate(grown);
            if (Check(i, input) && grown.Count < 256) grown.Add(input); // keep accepted variants: they reach deeper
        }
        return new SmokeResult(target.Name, seed, iterations, accepted, clock.Elapsed, findings);

        // True for a new accepted input (kept in the corpus: mutating valid inputs reaches deeper code).
        bool Check(int iteration, byte[] input)
        {
            try
            {
                if (!target.Run(input)) return false;
                if (iteration >= 0) accepted++;
                return iteration >= 0;
            }
            catch (Exception e)
            {
                findings.Add((iteration, input, e));
                return false;
            }
        }
    }
}
