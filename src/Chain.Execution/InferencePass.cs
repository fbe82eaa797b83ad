using Chain.Core;
using Chain.Inference;
using Chain.Inference.Runtime;

namespace Chain.Execution;

/// <summary>
/// The inferences of one execution of a block, run in one <see cref="InferenceMode"/>. It remembers every
/// outcome it used (one per model and input, so a block that repeats an inference sees one answer), so that
/// when the block disagrees with this node, <see cref="Settle"/> can decide each fast-path result by the
/// canonical executor once and the block can be executed again on canonical outcomes alone.
/// </summary>
internal sealed class InferencePass(InferenceRunner runner, InferenceMode mode, ExecutionCacheCounters? counters = null)
{
    // Each used outcome with its input and the model's bytes loader (settling may have to reload an evicted model).
    private readonly Dictionary<(Hash32 Model, Hash32 Input), (Tensor Input, Func<byte[]> ModelBytes, InferenceOutcome Outcome)> _used = [];

    /// <summary>Whether any outcome used so far is a fast-path result not compared with canonical.</summary>
    public bool ReliedOnFastPath => _used.Values.Any(u => u.Outcome.FastPath);

    public InferenceOutcome Run(Hash32 modelId, Func<byte[]> modelBytes, Tensor input)
    {
        var key = (modelId, input.Hash);
        if (_used.TryGetValue(key, out var used)) return used.Outcome;
        var outcome = runner.Run(modelId, modelBytes, input, mode, out bool cached);
        counters?.Inference(cached);
        _used[key] = (input, modelBytes, outcome);
        return outcome;
    }

    /// <summary>
    /// A canonical-only pass that starts with this pass's outcomes, each fast-path one settled by the canonical
    /// executor (a difference takes that model off the fast path, see <see cref="InferenceRunner.Settle"/>).
    /// </summary>
    /// <param name="settled">How many fast-path outcomes were settled.</param>
    /// <param name="differed">How many of those the canonical executor did not reproduce.</param>
    public InferencePass Settle(out int settled, out int differed)
    {
        var canonical = new InferencePass(runner, InferenceMode.CanonicalOnly, counters);
        settled = differed = 0;
        foreach (var (key, (input, modelBytes, outcome)) in _used)
        {
            var decided = runner.Settle(key.Model, modelBytes, input, outcome);
            if (outcome.FastPath)
            {
                settled++;
                if (!decided.SameResult(outcome)) differed++;
            }
            canonical._used[key] = (input, modelBytes, decided);
        }
        return canonical;
    }
}
