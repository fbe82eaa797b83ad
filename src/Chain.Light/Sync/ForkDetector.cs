using Chain.Core.Protocol;
using Chain.Rpc;

namespace Chain.Light.Sync;

/// <summary>What cross-checking one witness found.</summary>
public enum WitnessOutcome
{
    /// <summary>The witness serves the same header.</summary>
    Agreed,
    /// <summary>The witness could not be asked (unreachable, error, or malformed answer): reported and skipped.</summary>
    Unresponsive,
    /// <summary>The witness serves another header that does not verify from the common trusted block: it is faulty, not an attack.</summary>
    Faulty,
    /// <summary>The witness serves another header that verifies from the common trusted block: a light-client attack.</summary>
    Conflicting,
}

public sealed record WitnessReport(string Witness, WitnessOutcome Outcome, string Detail);

/// <summary>Evidence built from a fork, where it was sent, and what each node answered (an error message when it failed).</summary>
public sealed record EvidenceSubmission(ConflictingHeader Evidence, string SentTo, string Answer);

/// <summary>
/// Two verifiable headers at one height: a light-client attack. The client stops; the evidence has been posted
/// (against the primary to the witness, against the witness to the primary).
/// </summary>
public sealed class LightAttackException(string message, IReadOnlyList<EvidenceSubmission> submissions)
    : LightClientException(message)
{
    public IReadOnlyList<EvidenceSubmission> Submissions { get; } = submissions;
}

/// <summary>
/// Cross-checks a header verified from the primary against witnesses (CometBFT's detector; docs/light-client.md §5).
/// A witness with another header at the target height is examined along the primary's trace: the first trace height at
/// which the witness differs is verified on the witness's side from the last common block (skipping verification
/// against the witness). If it verifies, both sides are verifiable forks: evidence is built for both headers at that
/// height and posted, and <see cref="LightAttackException"/> is thrown. Otherwise the witness is faulty and reported.
/// </summary>
public static class ForkDetector
{
    public static async Task<IReadOnlyList<WitnessReport>> CheckAsync(ILightSource primary, IReadOnlyList<ILightSource> witnesses, IReadOnlyList<LightBlock> trace,
        TrustOptions options, TimeProvider clock, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(trace);
        if (trace.Count < 2) throw new ArgumentException("a trace has the trusted block and the target", nameof(trace));
        var target = trace[^1];
        var reports = new List<WitnessReport>();
        foreach (var witness in witnesses)
        {
            LightBlock theirs;
            try
            {
                theirs = await witness.LightBlockAsync(target.Height, ct).ConfigureAwait(false);
            }
            catch (LightClientException e)
            {
                reports.Add(new(witness.Name, WitnessOutcome.Unresponsive, e.Message));
                continue;
            }
            if (theirs.Header.Hash == target.Header.Hash)
            {
                reports.Add(new(witness.Name, WitnessOutcome.Agreed, $"same header {target.Header.Hash} at {target.Height}"));
                continue;
            }
            var (report, divergence) = await ExamineAsync(witness, trace, theirs, options, clock, ct).ConfigureAwait(false);
            if (divergence is not { } fork)
            {
                reports.Add(report);
                continue;
            }
            var submissions = new List<EvidenceSubmission>
            {
                await SubmitAsync(witness, new ConflictingHeader(fork.Primary.Header, fork.Primary.Commit), ct).ConfigureAwait(false),
                await SubmitAsync(primary, new ConflictingHeader(fork.Witness.Header, fork.Witness.Commit), ct).ConfigureAwait(false),
            };
            throw new LightAttackException(
                $"light-client attack: at height {fork.Primary.Height} primary {primary.Name} serves {fork.Primary.Header.Hash} and witness {witness.Name} serves " +
                $"{fork.Witness.Header.Hash}, both verifiable from trusted height {fork.CommonHeight}; evidence submitted to both", submissions);
        }
        return reports;
    }

    private readonly record struct Fork(LightBlock Primary, LightBlock Witness, ulong CommonHeight);

    private static async Task<(WitnessReport Report, Fork? Fork)> ExamineAsync(ILightSource witness, IReadOnlyList<LightBlock> trace, LightBlock theirsAtTarget,
        TrustOptions options, TimeProvider clock, CancellationToken ct)
    {
        var common = trace[0];
        try
        {
            var root = await witness.LightBlockAsync(common.Height, ct).ConfigureAwait(false);
            if (root.Header.Hash != common.Header.Hash)
                return (new(witness.Name, WitnessOutcome.Faulty, $"serves {root.Header.Hash} at trusted height {common.Height}, which is {common.Header.Hash}"), null);
            for (int i = 1; i < trace.Count; i++)
            {
                var ours = trace[i];
                var theirs = i == trace.Count - 1 ? theirsAtTarget : await witness.LightBlockAsync(ours.Height, ct).ConfigureAwait(false);
                if (theirs.Header.Hash == ours.Header.Hash)
                {
                    common = ours;
                    continue;
                }
                var witnessTrace = await Bisection.VerifyToAsync(witness, common, theirs, options, clock, ct).ConfigureAwait(false);
                return (new(witness.Name, WitnessOutcome.Conflicting, $"conflicting header at {ours.Height}"), new Fork(ours, witnessTrace[^1], common.Height));
            }
        }
        catch (LightClientException e) when (e.Failure is null)
        {
            return (new(witness.Name, WitnessOutcome.Unresponsive, $"serves another header at {theirsAtTarget.Height}, then stopped answering: {e.Message}"), null);
        }
        catch (LightClientException e)
        {
            return (new(witness.Name, WitnessOutcome.Faulty, $"serves another header at {theirsAtTarget.Height} that does not verify: {e.Message}"), null);
        }
        return (new(witness.Name, WitnessOutcome.Faulty, "differs only at the target, yet agrees along the trace"), null);
    }

    private static async Task<EvidenceSubmission> SubmitAsync(ILightSource to, ConflictingHeader evidence, CancellationToken ct)
    {
        try
        {
            EvidenceSubmitResponse answer = await to.SubmitEvidenceAsync(evidence, ct).ConfigureAwait(false);
            return new(evidence, to.Name, $"{answer.Status} {answer.Hash}");
        }
        catch (LightClientException e)
        {
            return new(evidence, to.Name, $"not accepted: {e.Message}");
        }
    }
}
