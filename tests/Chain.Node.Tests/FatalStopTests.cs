using System.Collections.Concurrent;
using Chain.Consensus;
using Chain.Consensus.Storage;
using Chain.Core;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;
using Chain.Node.Host;
using Chain.Storage;
using Microsoft.Extensions.Logging;

namespace Chain.Node.Tests;

/// <summary>Every stop says why: a fatal error is logged with its cause before the node stops, with a documented exit code.</summary>
public sealed class FatalStopTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-fatal-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private NodeHome NewHome(string name)
    {
        var modelsDir = GenesisModels.Locate(AppContext.BaseDirectory)!;
        var devnet = GenesisFile.Load(Path.Combine(Path.GetDirectoryName(modelsDir)!, "devnet.json"));
        return NodeHome.CreateTestnet(Path.Combine(_dir, name), 1, new ChainId("chain-fatal"), devnet.Models, basePort: 40200, devnetKeys: true, configure: c =>
        {
            c.P2p.Listen = "127.0.0.1:0";
            c.Rpc.Listen = "127.0.0.1:0";
            c.Consensus.TimeoutProposeMs = 1000;
            c.Consensus.MinBlockIntervalMs = 50;
            c.Inference.FastPath = false;
        })[0].Home;
    }

    [Fact]
    public async Task A_store_that_fails_to_write_stops_the_node_with_a_critical_line_naming_the_cause_and_exit_code_3()
    {
        var home = NewHome("disk-full");
        var logs = new CapturingLogs();
        FailingStore? failing = null;
        await using var service = await NodeService.StartAsync(home, logs.Factory, new NodeServiceOptions
        {
            WrapStore = store => failing = new FailingStore(store),
        });
        // Let it commit a block first, then the disk "fills up".
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            while (service.Node.Metrics.Height < 1) await Task.Delay(20, deadline.Token);
        failing!.Fail = true;

        using var never = new CancellationTokenSource();
        var run = service.RunAsync(never.Token); // as `chain start` runs it: no signal comes
        Assert.Same(run, await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60))));
        int exitCode = await run;

        Assert.Equal(NodeExitCodes.StorageFailed, exitCode);
        Assert.Equal(3, exitCode);
        var lines = logs.Lines.ToList();
        int critical = lines.FindIndex(l => l.Level == LogLevel.Critical && l.Message.StartsWith("fatal: the node's loop stopped", StringComparison.Ordinal));
        Assert.True(critical >= 0, "no critical line:\n" + string.Join('\n', lines));
        Assert.Contains("No space left on device", lines[critical].Message);
        Assert.Contains("exiting with code 3", lines[critical].Message);
        // Logged before the shutdown started, and the last line says it was not a clean stop.
        int stopping = lines.FindIndex(l => l.Message.StartsWith("stopping at height", StringComparison.Ordinal));
        Assert.True(stopping > critical, string.Join('\n', lines));
        Assert.DoesNotContain(lines, l => l.Message == "stopped cleanly");
        Assert.Equal(LogLevel.Critical, lines[^1].Level);
        Assert.Contains("No space left on device", lines[^1].Message);
    }

    [Fact]
    public async Task A_signing_refusal_is_logged_with_its_cause_and_counted()
    {
        var home = NewHome("guard-ahead");
        // A signer guard that already signed far ahead (a restored backup of another machine's state): it must refuse
        // everything this node asks at height 1, and the operator must hear of it.
        var key = home.LoadValidatorKey();
        var consensusDir = Path.Combine(home.DataDirectory, "consensus");
        Directory.CreateDirectory(consensusDir);
        using (var fs = new DiskFileSystem())
        {
            var guard = SignerGuard.Open(key, fs, ConsensusRunner.GuardPath(consensusDir));
            var vote = new Vote(VoteType.Precommit, new Height(1000), new Round(0), null, 0, key.Address);
            Assert.NotNull(guard.SignVote(home.LoadGenesis().ChainId, vote, out _));
        }

        var logs = new CapturingLogs();
        await using var service = await NodeService.StartAsync(home, logs.Factory);
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            while (service.Node.Metrics.SigningRefusals < 1) await Task.Delay(20, deadline.Token);

        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            while (!logs.Lines.Any(l => l.Message.StartsWith("signing refused at height 1", StringComparison.Ordinal))) await Task.Delay(20, deadline.Token);
        var line = logs.Lines.First(l => l.Message.StartsWith("signing refused at height 1", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Contains("below the last signed (1000,", line.Message);

        using var http = new HttpClient { BaseAddress = service.RpcAddress };
        var metrics = await http.GetStringAsync("metrics");
        Assert.Matches(@"chain_consensus_signing_refused_total\{step=""(Propose|Prevote|Precommit)""\} [1-9]", metrics);
    }

    /// <summary>A store whose writes fail, once told to, as RocksDB's do on a full disk.</summary>
    private sealed class FailingStore(IKeyValueStore inner) : IKeyValueStore
    {
        public volatile bool Fail;

        public void Write(StoreBatch batch, bool sync = true)
        {
            if (Fail)
                throw new StorageException("RocksDB write failed for the store: IO error: No space left on device: While appending to file: 000012.log",
                    new IOException("No space left on device"));
            inner.Write(batch, sync);
        }

        public IStoreSnapshot Snapshot() => inner.Snapshot();
        public byte[]? Get(Column column, ReadOnlySpan<byte> key) => inner.Get(column, key);
        public bool TryGet<T>(Column column, ReadOnlySpan<byte> key, ValueDecoder<T> decode, out T value) => inner.TryGet(column, key, decode, out value);
        public bool Contains(Column column, ReadOnlySpan<byte> key) => inner.Contains(column, key);
        public IEnumerable<(byte[] Key, byte[] Value)> Iterate(Column column, byte[]? from = null, byte[]? to = null) => inner.Iterate(column, from, to);
        public (byte[] Key, byte[] Value)? Last(Column column) => inner.Last(column);
        public void Dispose() { } // the node disposes the RocksDB store itself
    }

    /// <summary>Log lines in order, formatted as the console logger would format their messages.</summary>
    private sealed class CapturingLogs : ILoggerProvider
    {
        public ConcurrentQueue<(LogLevel Level, string Message)> Lines { get; } = new();
        public ILoggerFactory Factory => LoggerFactory.Create(b => b.AddProvider(this).SetMinimumLevel(LogLevel.Debug));
        public ILogger CreateLogger(string categoryName) => new Logger(this);
        public void Dispose() { }

        private sealed class Logger(CapturingLogs owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Lines.Enqueue((logLevel, formatter(state, exception)));
        }
    }
}
