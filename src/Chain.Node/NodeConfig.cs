using System.Globalization;
using System.Net;
using System.Text.Json;
using Chain.Consensus;
using Chain.Core.Crypto;
using Tomlyn;
using Tomlyn.Model;

namespace Chain.Node;

/// <summary>A config file that cannot be used; the message names the key and what is wrong.</summary>
public sealed class NodeConfigException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A node's config.toml. Every key has a default; a key the node does not know, a value of the wrong type,
/// or an invalid address is refused with a message naming the key, so a typo never silently falls back.
/// </summary>
public sealed class NodeConfig
{
    public string Moniker { get; set; } = "node";
    public P2pSection P2p { get; set; } = new();
    public RpcSection Rpc { get; set; } = new();
    public ConsensusSection Consensus { get; set; } = new();
    public InferenceSection Inference { get; set; } = new();
    public LogSection Log { get; set; } = new();

    public sealed class P2pSection
    {
        /// <summary>host:port the node listens on for peers.</summary>
        public string Listen { get; set; } = "127.0.0.1:26656";
        /// <summary>Peers to keep connected to: "nodeKeyHex@host:port".</summary>
        public List<string> PersistentPeers { get; set; } = [];
        public int MaxPeers { get; set; } = 40;
        public int SendQueueMessages { get; set; } = 4096;
        public int BanSeconds { get; set; } = 600;
        /// <summary>Also ban a misbehaving peer's IP address (off for loopback testnets, where every peer shares 127.0.0.1).</summary>
        public bool BanAddresses { get; set; } = true;
    }

    public sealed class RpcSection
    {
        public bool Enabled { get; set; } = true;
        /// <summary>host:port of the HTTP RPC (and /metrics); loopback by default.</summary>
        public string Listen { get; set; } = "127.0.0.1:26657";
        /// <summary>Concurrent RPC connections from one IP address (a further one gets 429); raise it behind a proxy.</summary>
        public int MaxConnectionsPerClient { get; set; } = 32;
        /// <summary>Sustained RPC requests per second from one IP address (burst twice that; over it: 429); 0 = no limit.</summary>
        public int MaxRequestsPerSecondPerClient { get; set; } = 1000;
    }

    public sealed class ConsensusSection
    {
        public ulong TimeoutProposeMs { get; set; } = 3000;
        public ulong TimeoutPrevoteMs { get; set; } = 1000;
        public ulong TimeoutPrecommitMs { get; set; } = 1000;
        /// <summary>Added to each timeout per round, so timeouts eventually exceed any real delay.</summary>
        public ulong TimeoutDeltaMs { get; set; } = 500;
        public int MaxBlockTransactions { get; set; } = 500;
        /// <summary>A proposer waits this long after the last decision before building (lets transactions gather).</summary>
        public ulong MinBlockIntervalMs { get; set; } = 1000;
    }

    public sealed class InferenceSection
    {
        /// <summary>Use ONNX Runtime where its bit-exact self-check passes (the canonical executor otherwise).</summary>
        public bool FastPath { get; set; } = true;
        /// <summary>Memory budget of the loaded-model cache; least recently used models are evicted past it (0: keep only the one in use).</summary>
        public long ModelCacheBytes { get; set; } = Chain.Inference.Runtime.InferenceEngine.DefaultModelCacheBytes;
    }

    public sealed class LogSection
    {
        /// <summary>debug, info, warn or error.</summary>
        public string Level { get; set; } = "info";
        /// <summary>text or json (one JSON object per line).</summary>
        public string Format { get; set; } = "text";
    }

    public TimeoutConfig Timeouts => new(Consensus.TimeoutProposeMs, Consensus.TimeoutDeltaMs, Consensus.TimeoutPrevoteMs, Consensus.TimeoutDeltaMs,
        Consensus.TimeoutPrecommitMs, Consensus.TimeoutDeltaMs);

    private static readonly TomlSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    public string ToToml() => TomlSerializer.Serialize(this, Options);

    public void Save(string path) => File.WriteAllText(path, "# Chain node configuration (docs/node.md lists every key).\n" + ToToml());

    public static NodeConfig Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeConfigException($"cannot read config '{path}': {e.Message}", e);
        }
        return Parse(text, path);
    }

    public static NodeConfig Parse(string toml, string source = "config")
    {
        NodeConfig config;
        TomlTable given;
        try
        {
            given = TomlSerializer.Deserialize<TomlTable>(toml, Options) ?? new TomlTable();
            config = TomlSerializer.Deserialize<NodeConfig>(toml, Options) ?? new NodeConfig();
        }
        catch (TomlException e)
        {
            throw new NodeConfigException($"{source}: {e.Message}", e);
        }
        // Unknown keys: every key given must be one the typed config writes back.
        var known = TomlSerializer.Deserialize<TomlTable>(config.ToToml(), Options)!;
        CheckKnown(given, known, "", source);
        config.Validate(source);
        return config;
    }

    private static void CheckKnown(TomlTable given, TomlTable known, string prefix, string source)
    {
        foreach (var (key, value) in given)
        {
            if (!known.TryGetValue(key, out var expected))
                throw new NodeConfigException($"{source}: unknown key '{prefix}{key}'");
            if (value is TomlTable sub)
            {
                if (expected is not TomlTable knownSub) throw new NodeConfigException($"{source}: '{prefix}{key}' is not a table");
                CheckKnown(sub, knownSub, prefix + key + ".", source);
            }
        }
    }

    private void Validate(string source)
    {
        ParseEndpoint(P2p.Listen, "p2p.listen", source);
        if (Rpc.Enabled) ParseEndpoint(Rpc.Listen, "rpc.listen", source);
        for (int i = 0; i < P2p.PersistentPeers.Count; i++) ParsePeer(P2p.PersistentPeers[i], $"p2p.persistent_peers[{i}]", source);
        if (Rpc.MaxRequestsPerSecondPerClient is < 0 or > 10_000_000)
            throw new NodeConfigException($"{source}: rpc.max_requests_per_second_per_client must be 0..10000000, got {Rpc.MaxRequestsPerSecondPerClient}");
        if (Rpc.MaxConnectionsPerClient is < 1 or > 100_000)
            throw new NodeConfigException($"{source}: rpc.max_connections_per_client must be 1..100000, got {Rpc.MaxConnectionsPerClient}");
        if (P2p.MaxPeers is < 1 or > 1000) throw new NodeConfigException($"{source}: p2p.max_peers must be 1..1000, got {P2p.MaxPeers}");
        if (P2p.SendQueueMessages is < 16 or > 1_000_000) throw new NodeConfigException($"{source}: p2p.send_queue_messages must be 16..1000000");
        if (P2p.BanSeconds < 0) throw new NodeConfigException($"{source}: p2p.ban_seconds must not be negative");
        if (Consensus.TimeoutProposeMs == 0 || Consensus.TimeoutPrevoteMs == 0 || Consensus.TimeoutPrecommitMs == 0)
            throw new NodeConfigException($"{source}: consensus timeouts must be at least 1 ms");
        if (Consensus.MinBlockIntervalMs >= Consensus.TimeoutProposeMs)
            throw new NodeConfigException($"{source}: consensus.min_block_interval_ms ({Consensus.MinBlockIntervalMs}) must be below consensus.timeout_propose_ms ({Consensus.TimeoutProposeMs})");
        if (Consensus.MaxBlockTransactions is < 1 or > Core.Protocol.ProtocolLimits.MaxTransactionsPerBlock)
            throw new NodeConfigException($"{source}: consensus.max_block_transactions must be 1..{Core.Protocol.ProtocolLimits.MaxTransactionsPerBlock}");
        if (Inference.ModelCacheBytes < 0) throw new NodeConfigException($"{source}: inference.model_cache_bytes must not be negative, got {Inference.ModelCacheBytes}");
        if (Log.Level is not ("debug" or "info" or "warn" or "error")) throw new NodeConfigException($"{source}: log.level must be debug, info, warn or error, got '{Log.Level}'");
        if (Log.Format is not ("text" or "json")) throw new NodeConfigException($"{source}: log.format must be text or json, got '{Log.Format}'");
    }

    /// <summary>Parses "host:port" (IPv4/IPv6 literal or "localhost").</summary>
    public static IPEndPoint ParseEndpoint(string text, string key = "address", string source = "config")
    {
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
            throw new NodeConfigException($"{source}: {key} '{text}' is not host:port");
        var host = text[..colon].Trim('[', ']');
        if (host == "localhost") return new IPEndPoint(IPAddress.Loopback, port);
        if (!IPAddress.TryParse(host, out var address)) throw new NodeConfigException($"{source}: {key} host '{host}' is not an IP address");
        return new IPEndPoint(address, port);
    }

    /// <summary>Parses "nodeKeyHex@host:port".</summary>
    public static (PublicKey NodeKey, IPEndPoint Endpoint) ParsePeer(string text, string key = "peer", string source = "config")
    {
        int at = text.IndexOf('@');
        if (at <= 0) throw new NodeConfigException($"{source}: {key} '{text}' is not nodeKeyHex@host:port");
        PublicKey nodeKey;
        try { nodeKey = PublicKey.Parse(text[..at]); }
        catch (FormatException e) { throw new NodeConfigException($"{source}: {key}: {e.Message}", e); }
        return (nodeKey, ParseEndpoint(text[(at + 1)..], key, source));
    }
}
