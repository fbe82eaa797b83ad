using Chain.Core.Protocol;

namespace Chain.Light.Sync;

/// <summary>Skipping (bisection) or sequential (every height) verification.</summary>
public enum VerificationMode
{
    Skipping,
    Sequential,
}

/// <summary>
/// From a trusted light block up to a target height, with light blocks fetched from one source (CometBFT's
/// <c>verifySkipping</c>; docs/light-client.md §4). Skipping: try the target; when too little of the trusted set signed
/// it, fetch the pivot <c>trusted + (upper − trusted) / 2</c> and try that, and so on; each verified block becomes the
/// new trusted one and the search resumes at the lowest unverified block above it. Sequential: every height, adjacent.
/// The trace returned starts with the trusted block and ends with the target; every step in it verified.
/// </summary>
public static class Bisection
{
    public static async Task<IReadOnlyList<LightBlock>> VerifyAsync(ILightSource source, LightBlock trusted, ulong target, TrustOptions options,
        TimeProvider clock, VerificationMode mode = VerificationMode.Skipping, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(trusted);
        ArgumentNullException.ThrowIfNull(clock);
        if (target <= trusted.Height) throw new ArgumentOutOfRangeException(nameof(target), $"target {target} is not above trusted height {trusted.Height}");
        var trace = new List<LightBlock> { trusted };
        if (mode == VerificationMode.Sequential)
        {
            var verified = trusted;
            for (ulong h = trusted.Height + 1; h <= target; h++)
            {
                var next = await source.LightBlockAsync(h, ct).ConfigureAwait(false);
                Check(LightVerifier.VerifyAdjacent(verified, next, options, NowMs(clock)), source, next);
                trace.Add(next);
                verified = next;
            }
            return trace;
        }
        return await SkipAsync(source, trace, await source.LightBlockAsync(target, ct).ConfigureAwait(false), options, clock, ct).ConfigureAwait(false);
    }

    /// <summary>Skipping verification to an already fetched <paramref name="targetBlock"/> (the detector verifies a witness's block).</summary>
    public static Task<IReadOnlyList<LightBlock>> VerifyToAsync(ILightSource source, LightBlock trusted, LightBlock targetBlock, TrustOptions options,
        TimeProvider clock, CancellationToken ct = default) =>
        SkipAsync(source, [trusted], targetBlock, options, clock, ct);

    private static async Task<IReadOnlyList<LightBlock>> SkipAsync(ILightSource source, List<LightBlock> trace, LightBlock targetBlock, TrustOptions options,
        TimeProvider clock, CancellationToken ct)
    {
        // pending[0] is the target; later entries are ever-lower pivots. depth is the one being tried.
        var verified = trace[^1];
        var pending = new List<LightBlock> { targetBlock };
        int depth = 0;
        while (true)
        {
            var candidate = pending[depth];
            var failure = LightVerifier.Verify(verified, candidate, options, NowMs(clock));
            if (failure is null)
            {
                trace.Add(candidate);
                if (depth == 0) return trace;
                verified = candidate;
                pending.RemoveRange(depth, pending.Count - depth);
                depth = 0;
                continue;
            }
            if (!LightVerifier.NeedsPivot(failure)) Check(failure, source, candidate);
            if (depth == pending.Count - 1)
            {
                ulong pivot = verified.Height + (candidate.Height - verified.Height) / 2;
                pending.Add(await source.LightBlockAsync(pivot, ct).ConfigureAwait(false));
            }
            depth++;
        }
    }

    internal static ulong NowMs(TimeProvider clock) => (ulong)clock.GetUtcNow().ToUnixTimeMilliseconds();

    private static void Check(VerifyFailure? failure, ILightSource source, LightBlock block)
    {
        if (failure is not null)
            throw new LightClientException($"{source.Name}: light block {block.Height} refused: {failure.Message}", failure);
    }
}
