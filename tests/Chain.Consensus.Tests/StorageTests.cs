using Chain.Consensus.Simulation;
using Chain.Consensus.Storage;
using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Consensus.Tests;

public sealed class SignerGuardTests
{
    private static readonly ChainId Chain = Harness.Chain;

    private static Vote V(VoteType t, ulong h, uint r, Hash32? hash, ulong ts, Core.Crypto.PrivateKey k) =>
        new(t, new Height(h), new Round(r), hash, ts, k.Address);

    [Fact]
    public void RefusesLowerOrConflicting_ReturnsSameForRepeat_AcrossRestart()
    {
        using var key = Harness.Key(0);
        var fs = new SimFileSystem();
        var guard = SignerGuard.Open(key, fs, "/v/signer.state");
        var x = new Hash32(Enumerable.Repeat((byte)7, 32).ToArray());
        var first = guard.SignVote(Chain, V(VoteType.Prevote, 5, 2, x, 100, key), out _);
        Assert.NotNull(first);

        // Restart: state comes from the file.
        guard = SignerGuard.Open(key, fs, "/v/signer.state");
        Assert.Equal((new Height(5), new Round(2), Step.Prevote), guard.Last);
        Assert.Null(guard.SignVote(Chain, V(VoteType.Prevote, 5, 2, null, 200, key), out var why));
        Assert.Contains("already signed", why);
        Assert.Null(guard.SignVote(Chain, V(VoteType.Prevote, 5, 1, x, 200, key), out why));
        Assert.Contains("below the last signed", why);
        Assert.Null(guard.SignProposal(Chain, new Proposal(new Height(5), new Round(2), null, x, 1, key.Address), out why)); // propose < prevote
        // The same vote again (new timestamp) gets the stored signature back, byte for byte.
        var again = guard.SignVote(Chain, V(VoteType.Prevote, 5, 2, x, 999, key), out _);
        Assert.True(first!.Equals(again));
        // Moving forward is fine and is remembered.
        Assert.NotNull(guard.SignVote(Chain, V(VoteType.Precommit, 5, 2, null, 300, key), out _));
        Assert.NotNull(guard.SignProposal(Chain, new Proposal(new Height(5), new Round(3), new Round(2), x, 1, key.Address), out _));
        guard = SignerGuard.Open(key, fs, "/v/signer.state");
        Assert.Null(guard.SignProposal(Chain, new Proposal(new Height(5), new Round(3), null, x, 1, key.Address), out why)); // other polRound
        Assert.NotNull(guard.SignVote(Chain, V(VoteType.Prevote, 6, 0, null, 1, key), out _));
    }

    [Fact]
    public void DamagedStateFile_IsFatal()
    {
        using var key = Harness.Key(0);
        var fs = new SimFileSystem();
        var guard = SignerGuard.Open(key, fs, "/v/s");
        guard.SignVote(Chain, V(VoteType.Prevote, 1, 0, null, 1, key), out _);
        var bytes = fs.ReadAll("/v/s")!;
        bytes[^3] ^= 0x40;
        fs.WriteAtomic("/v/s", bytes);
        Assert.Throws<InvalidDataException>(() => SignerGuard.Open(key, fs, "/v/s"));
    }

    [Fact]
    public void StateIsDurableBeforeTheSignatureIsReturned()
    {
        using var key = Harness.Key(0);
        var fs = new SimFileSystem();
        var guard = SignerGuard.Open(key, fs, "/v/s");
        guard.SignVote(Chain, V(VoteType.Prevote, 1, 0, null, 1, key), out _);
        fs.Crash(new SimRandom(1)); // loses everything not synced
        Assert.Equal((new Height(1), new Round(0), Step.Prevote), SignerGuard.Open(key, fs, "/v/s").Last);
    }
}

public sealed class WalTests
{
    private static WalEntry Entry(ulong h, uint r) => new(new Height(h), 10 * h + r, new TimeoutElapsed(new Height(h), new Round(r), Step.Prevote));

    private static SimFileSystem Written(int count, out List<byte[]> frames)
    {
        var fs = new SimFileSystem();
        var wal = ConsensusWal.Open(fs, "/w", out _, out _);
        frames = new List<byte[]>();
        for (int i = 0; i < count; i++)
        {
            wal.Append(Entry(1, (uint)i));
            frames.Add(ConsensusWal.Frame(Entry(1, (uint)i)));
        }
        wal.Sync();
        return fs;
    }

    [Fact]
    public void RoundTrip()
    {
        var fs = Written(5, out _);
        ConsensusWal.Open(fs, "/w", out var entries, out long cut);
        Assert.Equal(0, cut);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => (uint)i), entries.Select(e => ((TimeoutElapsed)e.Event).Round.Value));
    }

    [Fact]
    public void TornTail_EveryPrefixOfTheLastRecord_IsCutNotFatal()
    {
        var full = Written(3, out var frames).ReadAll("/w")!;
        int lastStart = full.Length - frames[^1].Length;
        for (int len = lastStart + 1; len < full.Length; len++)
        {
            var fs = new SimFileSystem();
            fs.WriteAtomic("/w", full.AsSpan(0, len));
            var wal = ConsensusWal.Open(fs, "/w", out var entries, out long cut);
            Assert.Equal(2, entries.Count);
            Assert.Equal(len - lastStart, cut);
            Assert.Equal(lastStart, fs.ReadAll("/w")!.Length); // truncated on disk
            wal.Append(Entry(2, 0)); // and the log keeps working after the cut
            ConsensusWal.Open(fs, "/w", out entries, out cut);
            Assert.Equal(3, entries.Count);
            Assert.Equal(0, cut);
        }
    }

    [Fact]
    public void CorruptLastRecord_IsCut_CorruptionInTheMiddle_IsFatal()
    {
        var full = Written(3, out var frames).ReadAll("/w")!;
        var lastDamaged = (byte[])full.Clone();
        lastDamaged[^2] ^= 0x10;
        var fs = new SimFileSystem();
        fs.WriteAtomic("/w", lastDamaged);
        ConsensusWal.Open(fs, "/w", out var entries, out long cut);
        Assert.Equal(2, entries.Count);
        Assert.Equal(frames[^1].Length, cut);

        var middleDamaged = (byte[])full.Clone();
        middleDamaged[frames[0].Length + 10] ^= 0x10;
        fs.WriteAtomic("/w", middleDamaged);
        var e = Assert.Throws<WalCorruptedException>(() => ConsensusWal.Open(fs, "/w", out _, out _));
        Assert.Contains("checksum mismatch", e.Message);
    }

    [Fact]
    public void DiskFileSystem_WalAndGuardOnRealFiles()
    {
        var dir = Path.Combine(Path.GetTempPath(), "chain-wal-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var disk = new DiskFileSystem())
            {
                var wal = ConsensusWal.Open(disk, Path.Combine(dir, "consensus.wal"), out _, out _);
                wal.Append(Entry(1, 0));
                wal.Append(Entry(1, 1));
                wal.Sync();
                using var key = Harness.Key(0);
                SignerGuard.Open(key, disk, Path.Combine(dir, "signer.state")).SignVote(Harness.Chain,
                    new Vote(VoteType.Precommit, new Height(3), new Round(1), null, 1, key.Address), out _);
            }
            File.AppendAllBytes(Path.Combine(dir, "consensus.wal"), [1, 2, 3]); // a torn header
            using var disk2 = new DiskFileSystem();
            ConsensusWal.Open(disk2, Path.Combine(dir, "consensus.wal"), out var entries, out long cut);
            Assert.Equal(2, entries.Count);
            Assert.Equal(3, cut);
            using var key2 = Harness.Key(0);
            Assert.Equal((new Height(3), new Round(1), Step.Precommit), SignerGuard.Open(key2, disk2, Path.Combine(dir, "signer.state")).Last);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

public sealed class RunnerTests
{
    [Fact]
    public void Restart_ReplaysTheHeight_RestoresLock_AndNeverSignsAgainDifferently()
    {
        var h = new Harness();
        var fs = new SimFileSystem();
        var runner = ConsensusRunner.Open(h.Config, h.Keys[h.Me], fs, "/v", new Height(1), h.Now, out _);
        // Block time before the clock readings below, so the proposal is timely.
        var block = h.App.BuildBlock(new Height(1), new Round(0), h.Keys[h.ProposerIndex(0)].Address, 1000);
        runner.Handle(h.ProposalFor(0, block), 1100);
        var prevote = Harness.Voted(runner.Handle(new ProposalVerified(new Height(1), block.Hash, true), 1200), VoteType.Prevote)!;
        var actions = h.Others.Take(2).SelectMany(i => runner.Handle(h.VoteBy(i, VoteType.Prevote, 0, block.Hash), 1300)).ToList();
        var precommit = Harness.Voted(actions, VoteType.Precommit)!;
        Assert.Equal(block.Hash, precommit.Vote.BlockHash);

        fs.Crash(new SimRandom(3)); // own votes were synced, so everything up to them survives
        var restarted = ConsensusRunner.Open(h.Config, h.Keys[h.Me], fs, "/v", new Height(1), 5000, out var replayed);
        Assert.Equal(new Round(0), restarted.Engine.LockedRound);
        Assert.Equal(block.Hash, restarted.Engine.LockedBlock);
        Assert.Equal(Step.Precommit, restarted.Engine.Step);
        // Whatever it re-broadcasts is exactly what it signed before.
        foreach (var v in replayed.OfType<BroadcastVote>())
            Assert.True(v.Vote.Equals(v.Vote.Vote.Type == VoteType.Prevote ? prevote : precommit));
        // A timeout now cannot make it sign a nil precommit for round 0.
        var after = restarted.Handle(new TimeoutElapsed(new Height(1), new Round(0), Step.Prevote), 6000);
        Assert.DoesNotContain(after, a => a is BroadcastVote);
    }

    [Fact]
    public void Restart_ListsTheReplayedVerdict_SoTheHostNeedNotVerifyTheProposalAgain()
    {
        var h = new Harness();
        var fs = new SimFileSystem();
        var runner = ConsensusRunner.Open(h.Config, h.Keys[h.Me], fs, "/v", new Height(1), h.Now, out _);
        var block = h.App.BuildBlock(new Height(1), new Round(0), h.Keys[h.ProposerIndex(0)].Address, 1000);
        var other = h.App.BuildBlock(new Height(1), new Round(1), h.Keys[h.ProposerIndex(1)].Address, 1001);
        runner.Handle(h.ProposalFor(0, block), 1100);
        Assert.NotNull(Harness.Voted(runner.Handle(new ProposalVerified(new Height(1), block.Hash, true), 1200), VoteType.Prevote));
        Assert.Empty(runner.ReplayedVerdicts); // a fresh runner replayed nothing

        fs.Crash(new SimRandom(5)); // the verdict went to the WAL before the engine saw it, and was synced with the prevote
        var restarted = ConsensusRunner.Open(h.Config, h.Keys[h.Me], fs, "/v", new Height(1), 5000, out var replayed);
        // Replaying the proposal repeats its verification request; the replayed verdict already answered it.
        Assert.Contains(replayed, a => a is VerifyProposalRequest v && v.Block.Hash == block.Hash);
        Assert.Equal([block.Hash], restarted.ReplayedVerdicts);
        Assert.DoesNotContain(other.Hash, restarted.ReplayedVerdicts);
        // The engine holds the verdict: answering again changes nothing and signs nothing.
        Assert.DoesNotContain(restarted.Handle(new ProposalVerified(new Height(1), block.Hash, true), 5100), a => a is BroadcastVote);
    }

    [Fact]
    public void EvidenceFromTheEngine_IsVerifiedAndPooled()
    {
        var h = new Harness();
        var runner = ConsensusRunner.Open(h.Config, h.Keys[h.Me], new SimFileSystem(), "/v", new Height(1), h.Now, out _);
        int other = h.Others.First();
        runner.Handle(h.VoteBy(other, VoteType.Precommit, 0, null), 1);
        runner.Handle(h.VoteBy(other, VoteType.Precommit, 0, h.MakeBlock(0).Hash), 2);
        runner.Handle(h.ProposalFor(0, h.MakeBlock(0)), 3); // the block becomes known: the second vote now counts
        runner.Handle(h.VoteBy(other, VoteType.Precommit, 0, h.MakeBlock(0).Hash), 4);
        Assert.Equal(1, runner.Evidence.Count);
        Assert.IsType<DuplicateVoteEvidence>(runner.Evidence.Pending().Single());
    }
}
