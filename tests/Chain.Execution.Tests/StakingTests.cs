using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Storage;
using static Chain.Execution.Tests.Fixture;

namespace Chain.Execution.Tests;

/// <summary>
/// Staking in execution (docs/staking.md): validators join and leave at H+2 with every header binding its set and the
/// next, unbonding pays out after the period, evidence slashes and jails, downtime jails without slashing, and hostile
/// staking transactions are left out with a one-line reason. Each chain checks the supply invariant after every block.
/// </summary>
public class StakingTests
{
    private static PrivateKey ConsensusKey(int i) => Key($"consensus-{i}");

    private static Address V(int i) => Validator(i).Address;

    [Fact]
    public void A_created_validator_enters_the_set_at_H_plus_2_ordered_by_power_then_address_with_the_max_validators_cutoff()
    {
        var chain = new StakingChain();
        var genesisHash = StakingChain.Genesis.Validators.Hash;
        chain.Know(ConsensusKey(0));
        chain.Know(ConsensusKey(1));

        var first = chain.Step(
            chain.Tx(User(0), new CreateValidatorBody(ConsensusKey(0).PublicKey, 30_000)),
            chain.Tx(User(1), new CreateValidatorBody(ConsensusKey(1).PublicKey, 30_000)));
        Assert.Equal(genesisHash, first.Block.Header.ValidatorsHash);
        Assert.Equal(genesisHash, first.Block.Header.NextValidatorsHash);
        Assert.Equal(genesisHash, chain.Set(2).Hash); // decided before block 1: unchanged
        Assert.Equal(InitialBalance - 1_000 - 30_000, chain.Balance(User(0).Address));
        Assert.Equal((30_000UL, 30_000UL, false), (chain.Validator(User(0).Address).Tokens, chain.Validator(User(0).Address).Shares, chain.Validator(User(0).Address).Jailed));
        Assert.Equal(User(0).Address, chain.Ledger.OperatorOf(ConsensusKey(0).Address));

        // Vals(3): the two new ones (power 30, by address), then the two genesis validators (power 10) with the lowest
        // addresses; the fifth and sixth candidates are cut off by max_validators = 4 but stay candidates.
        var genesisByAddress = Enumerable.Range(0, Validators).Select(V).Order().ToList();
        var expected = new[] { ConsensusKey(0).Address, ConsensusKey(1).Address }.Order().Concat(genesisByAddress.Take(2)).ToList();
        var three = chain.Set(3);
        Assert.Equal(expected, StakingChain.Members(three));
        Assert.Equal([30UL, 30, 10, 10], three.Set.Validators.Select(v => v.Power));
        Assert.Equal(new Height(3), three.ActiveSince);
        Assert.Equal(6, chain.Ledger.Candidates.Count);
        Assert.False(chain.Validator(genesisByAddress[3]).Jailed);

        var second = chain.Step(chain.Tx(User(2), new BondBody(User(0).Address, 25_000)));
        Assert.Equal(genesisHash, second.Block.Header.ValidatorsHash);
        Assert.Equal(three.Hash, second.Block.Header.NextValidatorsHash); // block 2 binds the set it hands over to
        Assert.Equal(25_000UL, chain.Ledger.DelegationShares(User(2).Address, User(0).Address));
        Assert.Equal([User(0).Address], chain.Ledger.DelegatedTo(User(2).Address));
        var four = chain.Set(4);
        Assert.Equal(ConsensusKey(0).Address, four.Set.Validators[0].Address);
        Assert.Equal(55UL, four.Set.Validators[0].Power);
        Assert.Equal(new Height(4), four.ActiveSince);

        var third = chain.Step();
        Assert.Equal(three.Hash, third.Block.Header.ValidatorsHash);
        Assert.Contains(third.Block.Header.Proposer, StakingChain.Members(three));
        chain.RunTo(6);
        Assert.Equal(new Height(4), chain.Set(8).ActiveSince); // unchanged sets keep their first height
        Assert.Equal(four.Hash, chain.Set(8).Hash);
    }

    [Fact]
    public void Unbonding_leaves_the_set_at_H_plus_2_and_pays_out_only_after_the_unbonding_period()
    {
        var chain = new StakingChain();
        chain.Step(chain.Tx(User(5), new TransferBody(V(0), 100_000)));
        chain.Step(chain.Tx(Validator(0), new UnbondBody(V(0), 10_000)));
        Assert.Contains(V(0), StakingChain.Members(chain.Set(3)));
        Assert.DoesNotContain(V(0), StakingChain.Members(chain.Set(4)));
        Assert.Equal(0UL, chain.Validator(V(0)).Tokens);
        Assert.Empty(chain.Ledger.DelegatedTo(V(0)));
        var entry = Assert.Single(chain.Ledger.Unbonding.Entries);
        Assert.Equal(new UnbondingEntry(V(0), V(0), 10_000, 2, 12), entry);

        ulong before = chain.Balance(V(0));
        chain.RunTo(11); // empty blocks: no fees either
        Assert.Equal(before, chain.Balance(V(0)));
        chain.Step();
        Assert.Equal(before + 10_000, chain.Balance(V(0)));
        Assert.Empty(chain.Ledger.Unbonding.Entries);
    }

    [Fact]
    public void Duplicate_vote_evidence_slashes_tokens_and_later_unbondings_burns_them_jails_and_tombstones()
    {
        var chain = new StakingChain();
        chain.Step(chain.Tx(User(5), new TransferBody(V(2), 100_000)), chain.Tx(User(1), new BondBody(V(2), 5_000)));
        chain.Step(chain.Tx(Validator(2), new UnbondBody(V(2), 1_000)));
        Assert.Equal(14_000UL, chain.Validator(V(2)).Tokens);

        var evidence = Equivocation(2, height: 2);
        var block = chain.Step([], [evidence.Encoded]).Block;
        Assert.Single(block.Evidence);
        var record = chain.Validator(V(2));
        Assert.Equal(14_000UL - 1_400, record.Tokens); // 10 % of the tokens
        Assert.Equal(15_000UL - 1_000, record.Shares); // shares stay: every delegation lost 10 %
        Assert.Equal(900UL, Assert.Single(chain.Ledger.Unbonding.Entries).Amount); // created at 2 ≥ offence height 2
        Assert.Equal(1_500UL, chain.Ledger.Burned);
        Assert.True(record.Jailed && record.Tombstoned);
        Assert.Equal(4_500UL, StakingLedger.TokensOf(chain.Ledger.DelegationShares(User(1).Address, V(2)), record));
        var committed = chain.Node.GetEvidence(evidence.Hash)!;
        Assert.Equal([new SlashedOffender(V(2), 1_500)], committed.Offenders);
        Assert.Equal(("duplicate-vote", 2UL, 3UL), (committed.Kind, committed.OffenceHeight, committed.IncludedAt));
        Assert.Contains(V(2), StakingChain.Members(chain.Set(4)));
        Assert.DoesNotContain(V(2), StakingChain.Members(chain.Set(5)));

        // Tombstoned: never unjailed, whatever the height.
        chain.RunTo(20);
        var unjail = chain.Propose([chain.Tx(Validator(2), new UnjailBody())]);
        Assert.Contains("tombstoned", Assert.Single(unjail.Skipped).Reason.Message);
        chain.Unuse(Validator(2));

        // The unbonding entry paid out what was left of it at 12.
        Assert.Empty(chain.Ledger.Unbonding.Entries);
    }

    [Fact]
    public void Evidence_older_than_the_staking_max_age_is_left_out_and_refused()
    {
        var chain = new StakingChain();
        chain.RunTo(13);
        // No stake changed: the genesis set (in genesis order) governs every height, active since 1.
        Assert.Equal(StakingChain.Genesis.InitialValidators, chain.Set(15));
        Assert.All(chain.Blocks, b => Assert.Equal(StakingChain.Genesis.Validators.Hash, b.Header.NextValidatorsHash));
        var stale = Equivocation(1, height: 2); // 14 - 2 > evidence_max_age 10
        var proposal = chain.Propose([], [stale.Encoded]);
        Assert.Empty(proposal.Block.Evidence);
        var h = proposal.Block.Header;
        List<ReadOnlyMemory<byte>> items = [stale.Encoded];
        var forced = new Block(new BlockHeader(h.ChainId, h.Height, h.TimeMs, h.LastBlockHash, h.LastCommitHash, h.TransactionsRoot, h.ReceiptsRoot,
            h.StateRoot, h.ValidatorsHash, h.NextValidatorsHash, Block.ComputeEvidenceRoot(items), h.Proposer), [], proposal.Block.LastCommit, items);
        var verdict = chain.Peer.VerifyProposal(forced);
        Assert.Equal(VerifyFailureKind.InvalidEvidence, verdict.Failure?.Kind);
        Assert.Contains("too old", verdict.Failure!.Message);
    }

    [Fact]
    public void Downtime_jails_without_slashing_and_unjail_is_refused_until_the_jail_period_is_over()
    {
        var chain = new StakingChain();
        chain.Offline.Add(V(3));
        chain.Step(chain.Tx(User(5), new TransferBody(V(3), 100_000)));
        chain.RunTo(3);
        Assert.False(chain.Validator(V(3)).Jailed);
        Assert.Equal(2UL, chain.Validator(V(3)).Missed); // commits 1 and 2 counted by blocks 2 and 3
        chain.Step(); // block 4 counts commit 3: 3 missed of the last 4 > max_missed 2
        var jailed = chain.Validator(V(3));
        Assert.True(jailed.Jailed);
        Assert.False(jailed.Tombstoned);
        Assert.Equal(9UL, jailed.JailedUntil);
        Assert.Equal(10_000UL, jailed.Tokens); // no slash
        Assert.Equal(0UL, chain.Ledger.Burned);
        Assert.Contains(V(3), StakingChain.Members(chain.Set(5)));
        Assert.DoesNotContain(V(3), StakingChain.Members(chain.Set(6)));

        chain.RunTo(7);
        var early = chain.Propose([chain.Tx(Validator(3), new UnjailBody())]);
        Assert.Equal((RejectCode.InvalidStaking, $"height: validator {V(3)} is jailed until height 9, this is height 8"),
            (Assert.Single(early.Skipped).Reason.Code, early.Skipped[0].Reason.Message));
        chain.Unuse(Validator(3));

        chain.RunTo(8);
        chain.Offline.Remove(V(3));
        chain.Step(chain.Tx(Validator(3), new UnjailBody()));
        Assert.False(chain.Validator(V(3)).Jailed);
        Assert.DoesNotContain(V(3), StakingChain.Members(chain.Set(10)));
        Assert.Contains(V(3), StakingChain.Members(chain.Set(11)));
        chain.RunTo(14);
        Assert.False(chain.Validator(V(3)).Jailed);
        Assert.Equal(10_000UL, chain.Validator(V(3)).Tokens);
    }

    [Fact]
    public void The_downtime_window_slides_over_the_last_M_commits_only()
    {
        var chain = new StakingChain();
        // Commits 1..7 of validator 3: missed, missed, signed, signed, missed, missed, missed (each counted by the next block).
        bool[] missed = [true, true, false, false, true, true, true];
        for (int i = 0; i < missed.Length; i++)
        {
            if (missed[i]) chain.Offline.Add(V(3));
            else chain.Offline.Remove(V(3));
            chain.Step(); // block i + 1 counts commit i; its own commit lacks validator 3 when offline
            // Never more than 2 misses among the last 4 counted (a ring of 8 would have seen 3 by block 6).
            Assert.False(chain.Validator(V(3)).Jailed, $"jailed at block {chain.Height}: {chain.Validator(V(3)).Missed} missed");
        }
        Assert.Equal(2UL, chain.Validator(V(3)).Missed); // block 7 counted commit 6: the last four are signed, signed, missed, missed
        chain.Step(); // block 8 counts commit 7: signed, missed, missed, missed → 3 > 2
        Assert.True(chain.Validator(V(3)).Jailed);
        Assert.Equal(0UL, chain.Validator(V(3)).Missed); // the window starts over when jailed
    }

    [Fact]
    public void A_complete_turnover_hands_the_chain_to_new_validators_with_every_header_binding_its_sets_and_survives_a_restart()
    {
        var store = new InMemoryStore();
        var chain = new StakingChain(store);
        var fund = Enumerable.Range(0, Validators).Select(i => chain.Tx(User(5), new TransferBody(V(i), 50_000)));
        var create = Enumerable.Range(0, 4).Select(i =>
        {
            chain.Know(ConsensusKey(10 + i));
            return chain.Tx(User(i), new CreateValidatorBody(ConsensusKey(10 + i).PublicKey, 20_000 + (ulong)i * 1_000));
        });
        chain.Step([.. fund, .. create], null);
        chain.Step([.. Enumerable.Range(0, Validators).Select(i => chain.Tx(Validator(i), new UnbondBody(V(i), 10_000)))], null);
        chain.RunTo(14);

        var newcomers = Enumerable.Range(0, 4).Select(i => ConsensusKey(13 - i).Address).ToList(); // by power: 23, 22, 21, 20
        Assert.Equal(newcomers, StakingChain.Members(chain.Set(3)));
        for (ulong h = 3; h <= 16; h++) Assert.Equal(newcomers, StakingChain.Members(chain.Set(h)));
        foreach (var block in chain.Blocks.Skip(2)) Assert.DoesNotContain(block.Header.Proposer, Enumerable.Range(0, Validators).Select(V));
        for (int i = 0; i < Validators; i++) Assert.Equal(0UL, chain.Validator(V(i)).Tokens);
        Assert.Empty(chain.Ledger.Unbonding.Entries); // paid at 12

        // Reopened from its store, the node knows every height's set (headers say which) and goes on.
        var reopened = new ChainExecutor(StakingChain.Genesis, store, InMemoryStateBackend.Load(store), Runner());
        for (ulong h = 1; h <= 16; h++)
            Assert.Equal(chain.Set(h), reopened.ValidatorsAt(new Height(h)));
        foreach (var block in chain.Blocks)
            Assert.Equal(block.Header.ValidatorsHash, reopened.ValidatorSetByHash(block.Header.ValidatorsHash)!.Hash);
    }

    [Fact]
    public void Hostile_staking_transactions_are_left_out_with_a_one_line_reason_and_refused_in_a_block()
    {
        var chain = new StakingChain();
        chain.Step(chain.Tx(User(1), new BondBody(V(0), 5_000)), chain.Tx(User(0), new CreateValidatorBody(ConsensusKey(0).PublicKey, 1_000)));
        var rootBefore = chain.Node.StateRoot;
        var cases = new (PrivateKey Sender, TransactionBody Body, RejectCode Code, string Reason)[]
        {
            (User(2), new BondBody(User(4).Address, 100), RejectCode.InvalidStaking, $"validator: {User(4).Address} is not a validator operator"),
            (User(1), new UnbondBody(V(0), 5_001), RejectCode.InvalidStaking, $"amount: {User(1).Address} has 5000 tokens bonded to {V(0)}, cannot unbond 5001"),
            (User(2), new UnbondBody(V(0), 1), RejectCode.InvalidStaking, "has 0 tokens bonded"),
            (User(2), new CreateValidatorBody(Validator(1).PublicKey, 1_000), RejectCode.InvalidStaking, $"is already the key of validator {V(1)}"),
            (User(3), new CreateValidatorBody(ConsensusKey(0).PublicKey, 1_000), RejectCode.InvalidStaking, "a key serves one validator, ever"),
            (User(0), new CreateValidatorBody(ConsensusKey(9).PublicKey, 1_000), RejectCode.InvalidStaking, "already operates a validator"),
            (User(2), new BondBody(V(0), 0), RejectCode.InvalidStaking, "amount: expected at least 1 token to bond, got 0"),
            (User(1), new UnbondBody(V(0), 0), RejectCode.InvalidStaking, "amount: expected at least 1 token to unbond, got 0"),
            (User(3), new CreateValidatorBody(ConsensusKey(8).PublicKey, 0), RejectCode.InvalidStaking, "selfBond: expected at least 1, got 0"),
            (User(0), new UnjailBody(), RejectCode.InvalidStaking, $"validator {User(0).Address} is not jailed"),
            (User(4), new UnjailBody(), RejectCode.InvalidStaking, $"{User(4).Address} does not operate a validator"),
            (User(2), new BondBody(V(0), ulong.MaxValue), RejectCode.InvalidStaking, "overflows the validator's 64-bit tokens or shares"),
            (User(2), new BondBody(V(0), InitialBalance), RejectCode.InsufficientFunds, "the fee and the bond take"),
        };
        foreach (var (sender, body, code, reason) in cases)
        {
            var tx = chain.Tx(sender, body);
            var proposal = chain.Propose([tx]);
            var skipped = Assert.Single(proposal.Skipped);
            Assert.True(skipped.Reason.Code == code && skipped.Reason.Message.Contains(reason, StringComparison.Ordinal), $"{body.Kind}: {skipped.Reason}");
            Assert.DoesNotContain('\n', skipped.Reason.Message);

            // Forced into a block, the peer refuses it at that transaction.
            var h = proposal.Block.Header;
            var forced = new Block(new BlockHeader(h.ChainId, h.Height, h.TimeMs, h.LastBlockHash, h.LastCommitHash, Block.ComputeTransactionsRoot([tx]),
                h.ReceiptsRoot, h.StateRoot, h.ValidatorsHash, h.NextValidatorsHash, h.EvidenceRoot, h.Proposer), [tx], proposal.Block.LastCommit);
            var verdict = chain.Peer.VerifyProposal(forced);
            Assert.Equal((VerifyFailureKind.UnincludableTransaction, 0), (verdict.Failure?.Kind, verdict.Failure?.TransactionIndex));
            Assert.Contains(reason, verdict.Failure!.Message);
            chain.Unuse(sender);
        }
        Assert.Equal(rootBefore, chain.Node.StateRoot);

        // The mempool refuses the same, checked against the committed staking state.
        var pool = new Mempool(chain.Node);
        foreach (var (sender, body, code, reason) in cases)
        {
            var refused = pool.Add(chain.Tx(sender, body));
            Assert.True(refused?.Code == code && refused.Message.Contains(reason, StringComparison.Ordinal), $"{body.Kind}: {refused}");
            chain.Unuse(sender);
        }
        Assert.Null(pool.Add(chain.Tx(User(2), new BondBody(V(0), 10))));
    }

    [Fact]
    public void A_pending_staking_transaction_the_committed_state_no_longer_takes_leaves_the_mempool_with_its_senders_later_ones()
    {
        var chain = new StakingChain();
        chain.Step(chain.Tx(User(1), new BondBody(V(0), 5_000)));
        var pool = new Mempool(chain.Node);
        var first = chain.Tx(User(1), new UnbondBody(V(0), 3_000));
        var second = chain.Tx(User(1), new UnbondBody(V(0), 3_000)); // valid alone, not after the first
        var third = chain.Tx(User(1), new TransferBody(User(2).Address, 1));
        var other = chain.Tx(User(3), new BondBody(V(1), 7));
        foreach (var tx in new[] { first, second, third, other }) Assert.Null(pool.Add(tx));

        var proposal = chain.Propose(pool.Select());
        Assert.Equal([first.Hash, other.Hash], proposal.Block.Transactions.Select(t => t.Hash));
        Assert.Contains("cannot unbond 3000", proposal.Skipped[0].Reason.Message);
        chain.Commit(proposal);
        pool.Update(proposal.Block);
        Assert.Equal(0, pool.Count); // the second Unbond, and the transfer after it, are gone
    }

    [Fact]
    public void Staking_parameters_are_validated_and_part_of_the_genesis_hash_and_file()
    {
        Assert.NotEqual(Fixture.Genesis().Hash, StakingChain.Genesis.Hash);
        var bad = new[]
        {
            (StakingChain.Staking with { PowerReduction = 15 }, "power_reduction"),
            (StakingChain.Staking with { MaxValidators = 0 }, "max_validators"),
            (StakingChain.Staking with { SlashDuplicateVotePpm = 1_000_001 }, "slash_duplicate_vote_ppm"),
            (StakingChain.Staking with { MaxMissed = 4 }, "max_missed"),
            (StakingChain.Staking with { EvidenceMaxAge = 11 }, "evidence_max_age"),
            (StakingChain.Staking with { MaxValidators = 3 }, "staking.max_validators is 3"),
        };
        foreach (var (staking, reason) in bad)
        {
            var e = Assert.Throws<GenesisException>(() => Fixture.Genesis(Params with { Staking = staking }));
            Assert.Contains(reason, e.Message);
        }

        var dir = Path.Combine(Path.GetTempPath(), "chain-staking-genesis-" + Guid.NewGuid().ToString("N"));
        try
        {
            var path = Path.Combine(dir, "genesis.json");
            Directory.CreateDirectory(dir);
            GenesisFile.Save(StakingChain.Genesis, path);
            Assert.Equal(StakingChain.Genesis.Hash, GenesisFile.Load(path).Hash);
            Assert.Equal(StakingChain.Staking, GenesisFile.Load(path).Parameters.Staking);
            // Without a "staking" object: the defaults.
            var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            json.Remove("staking");
            var defaults = GenesisFile.Parse(json.ToJsonString(), dir);
            Assert.Equal(StakingParameters.Default, defaults.Parameters.Staking);
            Assert.Equal(Fixture.Genesis().Hash, defaults.Hash);
            json["staking"] = new System.Text.Json.Nodes.JsonObject { ["power_reduction"] = 1000 };
            Assert.Contains("staking: missing field", Assert.Throws<GenesisException>(() => GenesisFile.Parse(json.ToJsonString(), dir)).Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static Consensus.DuplicateVoteEvidence Equivocation(int validator, ulong height)
    {
        var key = Validator(validator);
        Vote Prevote(byte b) => new(VoteType.Prevote, new Height(height), new Round(0), new Hash32(Enumerable.Repeat(b, 32).ToArray()), 5, key.Address);
        return new Consensus.DuplicateVoteEvidence(Prevote(1).Sign(Fixture.Chain, key), Prevote(2).Sign(Fixture.Chain, key));
    }
}
