using Chain.Consensus;
using Chain.Core;

namespace Chain.Node.Host;

/// <summary>
/// When the node re-broadcasts its gossip set: only once consensus has stood still (same height, round and step) for a
/// whole interval. While messages flow the step keeps moving and nothing is re-sent, so re-gossip costs no bandwidth
/// on a healthy network (every node re-sending the compact proposal every interval was most of the bytes per
/// transaction left above (n − 1) × size at 7 validators); a lost message stalls the step and re-gossip recovers it
/// one interval later, then every interval until the step moves.
/// </summary>
public sealed class RegossipSchedule(long intervalMs)
{
    private (Height Height, Round Round, Step Step) _position;
    private long _stillSinceMs;

    /// <summary>True when the gossip set should be re-broadcast now; <paramref name="nowMs"/> never goes backwards.</summary>
    public bool Due(Height height, Round round, Step step, long nowMs)
    {
        var position = (height, round, step);
        if (position != _position)
        {
            _position = position;
            _stillSinceMs = nowMs;
            return false;
        }
        if (nowMs - _stillSinceMs < intervalMs) return false;
        _stillSinceMs = nowMs; // the next one after another still interval
        return true;
    }
}
