using System.CommandLine;
using System.Diagnostics;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Merkle;
using Chain.Core.Protocol;
using Chain.Storage;
using Spectre.Console;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain walkthrough`: runs everything the foundation has, for real, end to end: key files, signed
/// transactions, blocks with Merkle roots finalized by >2/3 commits, atomic RocksDB writes, reopen,
/// strict reload, re-verification of every commit and inclusion proof, and refusal of tampered data.
/// It is what `make run` shows until the devnet exists.
/// </summary>
internal static class WalkthroughCommand
{
    private const string Marker = ".chain-walkthrough";
    private static readonly ChainId Chain = new("walkthrough-1");

    public static Command Create()
    {
        var data = new Option<string>("--data")
        {
            Description = "Directory for keys and the RocksDB database (recreated on each run)",
            DefaultValueFactory = _ => Path.Combine(".data", "walkthrough"),
        };
        var heights = new Option<int>("--heights") { Description = "Blocks to build", DefaultValueFactory = _ => 6 };
        var command = new Command("walkthrough", "Exercise keys, signatures, blocks, commits, Merkle proofs and RocksDB end to end") { data, heights };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            int count = result.GetValue(heights);
            if (count is < 1 or > 1000) throw new CliException("--heights must be between 1 and 1000");
            return Run(result.GetValue(data)!, count, output);
        }));
        return command;
    }

    private static int Run(string dataDir, int heights, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        PrepareDirectory(dataDir);
        var checks = new List<(string Check, bool Passed, string Detail)>();
        void Check(string name, bool passed, string detail = "")
        {
            checks.Add((name, passed, detail));
            if (!passed) throw new CliException($"walkthrough check failed: {name} {detail}");
        }

        // 1. Keys, written as key files and read back.
        var keyDir = Path.Combine(dataDir, "keys");
        var validatorKeys = new List<PrivateKey>();
        var accountKeys = new List<PrivateKey>();
        for (int i = 0; i < 4; i++) validatorKeys.Add(CreateKeyFile(Path.Combine(keyDir, $"validator{i}.json")));
        for (int i = 0; i < 3; i++) accountKeys.Add(CreateKeyFile(Path.Combine(keyDir, $"account{i}.json")));
        Check("key files written with mode 0600 and read back", Directory.GetFiles(keyDir).All(f => File.GetUnixFileMode(f) == (UnixFileMode.UserRead | UnixFileMode.UserWrite)));
        var validators = new ValidatorSet(validatorKeys.Select((k, i) => new Validator(k.PublicKey, 10 + (ulong)i)));

        // 2. Blocks, each finalized by a commit of validators 0..2 (33+ of 46 power).
        var dbPath = Path.Combine(dataDir, "db");
        var built = new List<(Block Block, Commit Commit, Receipt[] Receipts)>();
        var random = new Random(7);
        var nonces = new ulong[accountKeys.Count];
        var stopwatch = Stopwatch.StartNew();
        using (var store = RocksDbStore.Open(dbPath))
        {
            var blocks = new BlockStore(store);
            Commit? lastCommit = null;
            Hash32 lastHash = default;
            ulong time = 1_767_225_600_000; // 2026-01-01T00:00:00Z
            for (int h = 1; h <= heights; h++)
            {
                var txs = new List<SignedTransaction>();
                for (int t = 0; t < 3 + h; t++)
                {
                    int sender = random.Next(accountKeys.Count);
                    var key = accountKeys[sender];
                    TransactionBody body = (t % 3) switch
                    {
                        0 => new TransferBody(accountKeys[(sender + 1) % accountKeys.Count].Address, (ulong)random.Next(1, 1000)),
                        1 => new InferBody(new Hash32(System.Security.Cryptography.SHA256.HashData([(byte)h])), RandomBytes(random, 794), 5_000_000),
                        _ => new RegisterModelBody($"model-{h}-{t}", RandomBytes(random, 2048)),
                    };
                    txs.Add(new Transaction(Chain, key.PublicKey, nonces[sender]++, 10, body).Sign(key));
                }
                foreach (var tx in txs)
                    Check($"signature of tx {tx.Hash.ToString()[..12]} verifies", tx.Verify(Chain, out var why), why);

                // Receipts record only what the foundation can decide (the signature check); execution comes later.
                var receipts = txs.Select(tx => new Receipt(tx.Hash, ReceiptStatus.Success, 0)).ToArray();
                var proposer = validatorKeys[(h - 1) % validatorKeys.Count];
                var header = new BlockHeader(Chain, new Height((ulong)h), time += 1000, lastHash, lastCommit?.Hash ?? default,
                    Block.ComputeTransactionsRoot(txs), Block.ComputeReceiptsRoot(receipts), default,
                    validators.Hash, validators.Hash, MerkleTree.ComputeRoot([]), proposer.Address);
                var block = new Block(header, txs, lastCommit);
                Check($"block {h} passes basic validation", block.ValidateBasic(Chain, out var reason), reason);

                var commit = SignCommit(block, validatorKeys.Take(3), time + 500);
                Check($"commit for block {h} carries > 2/3 power", commit.Verify(Chain, validators, block.Height, block.Hash, out reason), reason);
                blocks.Save(block, commit, receipts);
                built.Add((block, commit, receipts));
                lastCommit = commit;
                lastHash = block.Hash;
            }
        }
        var writeElapsed = stopwatch.Elapsed;

        // 3. Reopen and re-verify everything from disk.
        stopwatch.Restart();
        int proofs = 0;
        using (var store = RocksDbStore.Open(dbPath))
        {
            var blocks = new BlockStore(store);
            Check("latest height survives reopen", blocks.LatestHeight == new Height((ulong)heights), $"{blocks.LatestHeight}");
            Hash32 previous = default;
            for (int h = 1; h <= heights; h++)
            {
                var height = new Height((ulong)h);
                var block = blocks.LoadBlock(height) ?? throw new CliException($"block {h} missing after reopen");
                var commit = blocks.LoadCommit(height) ?? throw new CliException($"commit {h} missing after reopen");
                Check($"block {h} reloads byte-identical", block.Encoded.Span.SequenceEqual(built[h - 1].Block.Encoded.Span));
                Check($"block {h} links to its parent", block.Header.LastBlockHash == previous);
                Check($"commit {h} verifies after reload", commit.Verify(Chain, validators, height, block.Hash, out var reason), reason);
                var leaves = block.Transactions.Select(t => t.Encoded).ToArray();
                for (int i = 0; i < leaves.Length; i++)
                {
                    var proof = MerkleTree.CreateProof(leaves, i);
                    Check($"inclusion proof of tx {i} in block {h}", proof.Verify(block.Header.TransactionsRoot, leaves[i].Span));
                    var located = blocks.FindTransaction(block.Transactions[i].Hash);
                    Check($"tx index finds tx {i} of block {h}", located == (height, i));
                    var receipt = blocks.LoadReceipt(height, i);
                    Check($"receipt {i} of block {h} reloads", receipt is not null && receipt.TransactionHash == block.Transactions[i].Hash);
                    proofs++;
                }
                previous = block.Hash;
            }
        }
        var verifyElapsed = stopwatch.Elapsed;

        // 4. Bad input is refused.
        var sample = built[^1];
        var tampered = sample.Block.Encoded.ToArray();
        var lastTx = sample.Block.Transactions[^1].Encoded.ToArray();
        int txAt = tampered.AsSpan().IndexOf(lastTx);
        tampered[txAt + lastTx.Length / 2] ^= 0x01;
        bool refused = !Canonical.TryDecode<Block>(tampered, out var decodedTampered, out _)
            || !decodedTampered!.ValidateBasic(Chain, out _);
        Check("a block with one flipped bit in a transaction is refused", refused);
        Check("a commit checked against another chain id is refused",
            !sample.Commit.Verify(new ChainId("other-chain"), validators, sample.Block.Height, sample.Block.Hash, out var why2), why2);
        var weak = SignCommit(sample.Block, validatorKeys.Take(2), 0);
        Check("a commit with 2 of 4 validators is refused", !weak.Verify(Chain, validators, sample.Block.Height, sample.Block.Hash, out why2), why2);
        Check("a non-canonical re-encoding (over-wide height) is refused", RefusesPaddedBlock(built[0].Block.Encoded.ToArray()));
        var proofOfFirst = MerkleTree.CreateProof(sample.Block.Transactions.Select(t => t.Encoded).ToArray(), 0);
        Check("an inclusion proof for a different transaction fails", !proofOfFirst.Verify(sample.Block.Header.TransactionsRoot, sample.Block.Transactions[1].Encoded.Span));

        // 5. Report.
        var table = new Table().Title("[bold]chain walkthrough[/]: blocks written to RocksDB, reopened and re-verified");
        table.AddColumns("height", "txs", "block hash", "tx root", "commit power", "bytes");
        foreach (var (block, commit, _) in built)
        {
            ulong power = commit.Signatures.Aggregate(0UL, (sum, s) => sum + (validators.TryGet(s.Validator, out var v, out _) ? v.Power : 0UL));
            table.AddRow(block.Height.ToString(), block.Transactions.Count.ToString(), block.Hash.ToString()[..16],
                block.Header.TransactionsRoot.ToString()[..16], $"{power}/{validators.TotalPower}", block.Encoded.Length.ToString("N0"));
        }
        console.Write(table);
        console.MarkupLine($"[green]{checks.Count} checks passed[/]: {proofs} inclusion proofs, {heights} commits, 4 tamper refusals.");
        console.MarkupLine($"write {heights} blocks (synced batches): {writeElapsed.TotalMilliseconds:F0} ms; reopen + reload + verify: {verifyElapsed.TotalMilliseconds:F0} ms");
        console.MarkupLine($"data: [blue]{Path.GetFullPath(dataDir)}[/]");
        foreach (var k in validatorKeys.Concat(accountKeys)) k.Dispose();
        return 0;
    }

    private static bool RefusesPaddedBlock(byte[] bytes)
    {
        // Re-encode the block's height (a small positive fixint inside the header) as uint16.
        var header = Canonical.Decode<Block>(bytes).Header;
        var headerBytes = header.Encoded.ToArray();
        int headerStart = bytes.AsSpan().IndexOf(headerBytes);
        int heightOffset = headerStart + 1 + 1 + 1 + header.ChainId.Value.Length; // array header, version, str header, chain id
        if (bytes[heightOffset] != (byte)header.Height.Value) return false;
        byte[] padded = [.. bytes[..heightOffset], 0xcd, 0x00, bytes[heightOffset], .. bytes[(heightOffset + 1)..]];
        return !Canonical.TryDecode<Block>(padded, out _, out var error) && error!.Error == DecodeError.NonCanonical;
    }

    private static Commit SignCommit(Block block, IEnumerable<PrivateKey> signers, ulong timeMs) =>
        new(block.Height, new Round(0), block.Hash, signers.Select(key =>
        {
            var vote = new Vote(VoteType.Precommit, block.Height, new Round(0), block.Hash, timeMs, key.Address);
            return new CommitSignature(key.Address, timeMs, key.Sign(vote.SignBytes(Chain)));
        }));

    private static PrivateKey CreateKeyFile(string path)
    {
        using (var key = PrivateKey.Generate()) KeyFile.Write(path, key);
        return KeyFile.Read(path);
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Recreates the directory, but only if it is empty or one this command made.</summary>
    private static void PrepareDirectory(string dataDir)
    {
        if (Directory.Exists(dataDir))
        {
            if (Directory.EnumerateFileSystemEntries(dataDir).Any() && !File.Exists(Path.Combine(dataDir, Marker)))
                throw new CliException($"{dataDir} exists and was not made by `chain walkthrough`; choose another --data");
            Directory.Delete(dataDir, recursive: true);
        }
        Directory.CreateDirectory(dataDir);
        File.WriteAllText(Path.Combine(dataDir, Marker), "created by chain walkthrough; safe to delete\n");
    }
}
