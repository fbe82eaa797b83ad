using System.CommandLine;
using System.Diagnostics;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Merkle;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Inference.Runtime;
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
        OutputFiles.RecreateOwnedDirectory(dataDir, "walkthrough");
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

        // 1b. The genesis models: admitted, loaded into the canonical executor, known answers checked, and
        // the ONNX Runtime fast path enabled only if it reproduces canonical bytes on the self-check.
        var modelsDir = GenesisModels.Locate(Directory.GetCurrentDirectory())
            ?? throw new CliException("genesis/models (with vectors.json) not found in this folder or above it; run from the repository");
        var genesis = GenesisModels.Load(modelsDir);
        using var engine = new InferenceEngine();
        foreach (var model in genesis)
        {
            var inputName = CanonicalExecutor.Load(model.Bytes).Inputs[0].Name;
            var choice = engine.Load(model.Bytes, GenesisModels.Vectors(model, inputName));
            Check($"{model.Name} admitted; {model.Digits.Count} known answers reproduced by the canonical executor", engine.IsLoaded(model.ModelId));
            console.MarkupLine($"{Markup.Escape(model.Name)}: {(choice.UsesFastPath ? "[green]ONNX Runtime fast path on[/]" : "[yellow]canonical executor only[/]")} ({Markup.Escape(choice.Check?.ToString() ?? choice.Reason)})");
        }
        var digits = genesis.SelectMany(m => m.Digits.Select(d => (Model: m, Digit: d))).ToArray();
        var inferences = new List<(int Height, string Model, int Label, long Predicted, Hash32 OutputHash)>();
        int nextDigit = 0;

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
                        1 => InferDigit(digits[nextDigit++ % digits.Length]),
                        _ => new RegisterModelBody($"model-{h}-{t}", genesis[t % genesis.Count].Bytes),
                    };
                    txs.Add(new Transaction(Chain, key.PublicKey, nonces[sender]++, 10, body).Sign(key));
                }
                foreach (var tx in txs)
                    Check($"signature of tx {tx.Hash.ToString()[..12]} verifies", tx.Verify(Chain, out var why), why);

                // Infer transactions run for real (canonical bytes, fast path if it proved equal); other kinds
                // record the signature check only until the execution layer lands.
                var receipts = txs.Select(tx => tx.Transaction.Body is InferBody infer
                    ? Infer(engine, tx, infer, h, genesis, inferences)
                    : new Receipt(tx.Hash, ReceiptStatus.Success, 0)).ToArray();
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
        var inferenceTable = new Table().Title("[bold]inference receipts[/]: real MNIST test digits through the genesis models");
        inferenceTable.AddColumns("height", "model", "label", "predicted", "output hash");
        foreach (var r in inferences)
            inferenceTable.AddRow(r.Height.ToString(), Markup.Escape(r.Model), r.Label.ToString(),
                r.Predicted == r.Label ? $"[green]{r.Predicted}[/]" : $"[red]{r.Predicted}[/]", r.OutputHash.ToString()[..16]);
        console.Write(inferenceTable);
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

    private static InferBody InferDigit((GenesisModel Model, GenesisDigit Digit) pick) =>
        new(pick.Model.ModelId, Canonical.Encode(GenesisModels.ImageTensor(pick.Digit.Pixels)), 5_000_000);

    /// <summary>Runs one Infer transaction and returns its receipt; checks the result against the shipped known answer.</summary>
    private static Receipt Infer(InferenceEngine engine, SignedTransaction tx, InferBody body, int height,
        IReadOnlyList<GenesisModel> genesis, List<(int, string, int, long, Hash32)> log)
    {
        var model = genesis.Single(m => m.ModelId == body.ModelId);
        var input = Canonical.Decode<Tensor>(body.Input);
        var canonical = engine.Canonical(model.ModelId);
        var outputs = engine.Run(model.ModelId, [new NamedTensor(canonical.Inputs[0].Name, input)], verify: true);
        var output = outputs[0].Value;
        var predicted = outputs.Single(o => o.Name == "class").Value.Elements<long>()[0];
        var digit = model.Digits.Single(d => GenesisModels.ImageTensor(d.Pixels).Hash == input.Hash);
        if (output.Hash != digit.OutputHash)
            throw new CliException($"inference of test digit {digit.TestIndex} gave {output.Hash}, the shipped answer is {digit.OutputHash}");
        log.Add((height, model.Name, digit.Label, predicted, output.Hash));
        return new Receipt(tx.Hash, ReceiptStatus.Success, 0,
            new InferenceResult(model.ModelId, GenesisModels.SemanticsVersion, input.Hash, output.Hash, Canonical.Encode(output)));
    }
}
