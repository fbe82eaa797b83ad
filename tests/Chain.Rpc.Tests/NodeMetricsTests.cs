using System.Text;
using Chain.Core;

namespace Chain.Rpc.Tests;

/// <summary>NodeMetrics: what the node reports shows up in the export, and each instance counts alone.</summary>
public sealed class NodeMetricsTests
{
    private static async Task<string> Export(NodeMetrics metrics)
    {
        using var stream = new MemoryStream();
        await metrics.ExportAsync(stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    [Fact]
    public async Task Every_reported_event_is_exported_under_its_name()
    {
        var metrics = new NodeMetrics();
        var model = new Hash32(Enumerable.Repeat((byte)0xab, 32).ToArray());
        metrics.BlockCommitted(7, 2, 5, 1_500);
        metrics.MempoolChanged(3, 900);
        metrics.InferenceRan(model, onOrtFastPath: true, 2.5);
        metrics.InferenceRan(model, onOrtFastPath: false, 9);
        metrics.OrtFallback(model);
        metrics.PeersChanged(3);
        metrics.P2pTraffic(bytesOut: 100, messagesOut: 1, bytesIn: 40, messagesIn: 1);
        metrics.P2pChannelBytesSent([("consensus", 70), ("transactions", 30)]);
        metrics.RpcRequest("/status", 200);
        metrics.ModelCache(new ModelCacheTotals(Hits: 9, Misses: 2, Evictions: 1, Bytes: 4096, Models: 1));
        metrics.ModelCache(new ModelCacheTotals(Hits: 12, Misses: 2, Evictions: 1, Bytes: 2048, Models: 1)); // totals: counters move up to them
        metrics.TransactionRelay(new TransactionRelayTotals(AnnouncedOut: 6, AnnouncedIn: 4, Requested: 3, DuplicatesAvoided: 1, TimedOut: 0,
            BodiesServed: 2, BodyBytesSent: 300));
        metrics.ProposalVerification(new ProposalVerificationTotals(InFlight: 1, Verified: 4, Dropped: 1, Stale: 2, Replayed: 1, LoopBlocked: TimeSpan.FromMilliseconds(250)));
        metrics.ProposalVerification(new ProposalVerificationTotals(InFlight: 0, Verified: 6, Dropped: 1, Stale: 2, Replayed: 1, LoopBlocked: TimeSpan.FromMilliseconds(500)));

        var text = await Export(metrics);
        foreach (var line in new[]
        {
            "chain_height 7", "chain_consensus_last_round 2", "chain_txs_committed_total 5", "chain_mempool_transactions 3",
            "chain_mempool_bytes 900", "chain_peers_connected 3", "chain_block_finality_seconds_count 1",
            "chain_consensus_rounds_per_height_sum 3",
            "chain_inference_seconds_count{model=\"abababababab\"} 2", "chain_inference_runs_total{executor=\"ort\"} 1",
            "chain_inference_runs_total{executor=\"canonical\"} 1", "chain_inference_ort_fallbacks_total{model=\"abababababab\"} 1",
            "chain_p2p_bytes_total{direction=\"out\"} 100", "chain_p2p_bytes_total{direction=\"in\"} 40",
            "chain_p2p_channel_bytes_sent_total{channel=\"consensus\"} 70", "chain_p2p_channel_bytes_sent_total{channel=\"transactions\"} 30",
            "chain_p2p_messages_total{direction=\"out\"} 1", "chain_rpc_requests_total{route=\"/status\",status=\"200\"} 1",
            "chain_model_cache_hits_total 12", "chain_model_cache_misses_total 2", "chain_model_cache_evictions_total 1",
            "chain_model_cache_bytes 2048", "chain_model_cache_models 1",
            "chain_tx_relay_hashes_total{event=\"announced_out\"} 6", "chain_tx_relay_hashes_total{event=\"requested\"} 3",
            "chain_tx_relay_hashes_total{event=\"duplicate_avoided\"} 1", "chain_tx_relay_bodies_served_total 2",
            "chain_tx_body_bytes_sent_total 300",
            "chain_proposal_verifications_in_flight 0", "chain_proposal_verifications_total{outcome=\"verified\"} 6",
            "chain_proposal_verifications_total{outcome=\"dropped\"} 1", "chain_proposal_verifications_total{outcome=\"stale\"} 2",
            "chain_proposal_verifications_total{outcome=\"replayed\"} 1", "chain_consensus_loop_blocked_seconds_total 0.5",
        })
            Assert.Contains(line, text);
    }

    [Fact]
    public async Task Two_instances_in_one_process_do_not_share_numbers()
    {
        var a = new NodeMetrics();
        var b = new NodeMetrics();
        a.BlockCommitted(10, 0, 1, 1);
        b.BlockCommitted(2, 0, 1, 1);
        Assert.Contains("chain_height 10", await Export(a));
        Assert.Contains("chain_height 2", await Export(b));
    }
}
