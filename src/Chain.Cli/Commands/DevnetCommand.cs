using System.CommandLine;
using System.Diagnostics;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Runtime;
using Chain.Node;
using Spectre.Console;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain devnet`: the local multi-validator devnet in one process: the genesis of genesis/devnet.json,
/// four validators each on its own RocksDB, BFT consensus, real inference on MNIST test digits, and a
/// check that every validator stored identical blocks and receipts.
/// </summary>
internal static class DevnetCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Directory for the validators' databases (recreated)", DefaultValueFactory = _ => Path.Combine(".data", "devnet") };
        var blocks = new Option<int>("--blocks") { Description = "Heights to finalize", DefaultValueFactory = _ => 8 };
        var infers = new Option<int>("--infers-per-block") { Description = "Infer transactions submitted per height", DefaultValueFactory = _ => 4 };
        var validators = new Option<int>("--validators") { Description = "Validator processes (multi-process mode)", DefaultValueFactory = _ => 4 };
        var inProcess = new Option<bool>("--in-process") { Description = "Run the validators in this process over an in-memory bus instead of as `chain start` processes over TCP" };
        var command = new Command("devnet", "Run a local devnet: validator processes on loopback (P2P, consensus, RocksDB, real inference), a stream of MNIST inferences, identical receipts everywhere")
        {
            data, blocks, infers, validators, inProcess,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            int count = result.GetValue(blocks), perBlock = result.GetValue(infers), n = result.GetValue(validators);
            if (count is < 1 or > 10_000 || perBlock is < 0 or > 400) throw new CliException("--blocks must be 1..10000 and --infers-per-block 0..400");
            if (n is < 1 or > 16) throw new CliException("--validators must be 1..16");
            if (result.GetValue(inProcess)) return Run(result.GetValue(data)!, count, perBlock, output);
            try
            {
                return new Devnet.ProcessDevnet(output).RunAsync(result.GetValue(data)!, n, count, perBlock).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is Rpc.RpcClientException or HttpRequestException or TaskCanceledException)
            {
                throw new CliException($"the devnet's RPC failed: {e.Message} (node logs are in {result.GetValue(data)}/node-*/node.log)");
            }
        }));
        return command;
    }

    private static int Run(string dataDir, int blocks, int perBlock, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        var modelsDir = GenesisModels.Locate(Directory.GetCurrentDirectory())
            ?? throw new CliException("genesis/models not found in this folder or above it; run from the repository");
        var genesisFile = Path.Combine(Path.GetDirectoryName(modelsDir)!, "devnet.json");
        Genesis genesis;
        try
        {
            genesis = GenesisFile.Load(genesisFile);
        }
        catch (GenesisException e)
        {
            throw new CliException($"{genesisFile}: {e.Message}");
        }
        OutputFiles.RecreateOwnedDirectory(dataDir, "devnet");

        // The inference engine every validator shares: known answers checked, fast path only if proven equal.
        using var engine = new InferenceEngine();
        var models = GenesisModels.Load(modelsDir);
        foreach (var model in models)
        {
            var choice = engine.Load(model.Bytes, GenesisModels.Vectors(model, CanonicalExecutor.Load(model.Bytes).Inputs[0].Name));
            console.MarkupLine($"{Markup.Escape(model.Name)} {model.ModelId.ToString()[..12]}: {(choice.UsesFastPath ? "ONNX Runtime fast path (bit-exact on the self-check)" : "canonical executor")}");
        }
        var digits = models.SelectMany(m => m.Digits.Select(d => (Model: m, Digit: d))).ToArray();
        var labels = digits.DistinctBy(d => d.Digit.TestIndex).ToDictionary(d => GenesisModels.ImageTensor(d.Digit.Pixels).Hash, d => d.Digit.Label);

        var validatorKeys = Enumerable.Range(0, genesis.Validators.Count).Select(i => InProcessDevnet.DevnetKey($"validator-{i}")).ToArray();
        if (!validatorKeys.Select(k => k.PublicKey).SequenceEqual(genesis.Validators.Validators.Select(v => v.PublicKey)))
            throw new CliException($"{genesisFile}: validator keys are not the published devnet keys (genesis/README.md)");
        var accounts = Enumerable.Range(0, genesis.Accounts.Count).Select(i => InProcessDevnet.DevnetKey($"account-{i}")).ToArray();
        var nonces = new ulong[accounts.Length];

        using var devnet = new InProcessDevnet(dataDir, genesis, validatorKeys, engine);
        console.MarkupLine($"devnet [bold]{genesis.ChainId}[/]: {validatorKeys.Length} validators, data in [blue]{Markup.Escape(Path.GetFullPath(dataDir))}[/]");
        var table = new Table().AddColumns("height", "round", "txs", "infer", "finality ms", "predicted / label", "identical on all", "state root");
        int next = 0, correct = 0, inferred = 0, txTotal = 0;
        bool allIdentical = true;
        var clock = Stopwatch.StartNew();
        // Each height's batch reaches the mempools just before its proposer builds, like clients sending
        // a steady stream; a proposer that builds again (a later round) finds the same batch waiting.
        ulong submittedFor = 0;
        devnet.BeforeBuild = h =>
        {
            if (h <= submittedFor || h > (ulong)blocks) return;
            submittedFor = h;
            SubmitBatch();
        };
        void SubmitBatch()
        {
            for (int i = 0; i < perBlock; i++)
            {
                var (model, digit) = digits[next++ % digits.Length];
                var input = Canonical.Encode(GenesisModels.ImageTensor(digit.Pixels));
                Submit(devnet, accounts, nonces, next, new InferBody(model.ModelId, input, 1_000_000), 1_000_000);
            }
            Submit(devnet, accounts, nonces, next++, new TransferBody(accounts[(next + 1) % accounts.Length].Address, 1 + (ulong)next), 10_000);
        }
        for (ulong height = 1; height <= (ulong)blocks; height++)
        {
            if (!devnet.RunUntil(height, TimeSpan.FromSeconds(60)))
                throw new CliException($"height {height} was not finalized by every validator within 60 s");
            var info = devnet.Describe(height);
            allIdentical &= info.ReceiptsIdentical;
            txTotal += info.Transactions;
            var predictions = new List<string>();
            var block = devnet.Nodes[0].Executor.Blocks.LoadBlock(new Height(height))!;
            var receipts = devnet.Nodes[0].Executor.Blocks.LoadReceipts(new Height(height));
            foreach (var receipt in receipts.Where(r => r.Inference is not null))
            {
                var logits = Canonical.Decode<Tensor>(receipt.Inference!.Output).Elements<byte>();
                int predicted = 0;
                for (int c = 1; c < logits.Length; c++) if (logits[c] > logits[predicted]) predicted = c;
                int label = labels.TryGetValue(receipt.Inference.InputHash, out var l) ? l : -1;
                inferred++;
                if (predicted == label) correct++;
                predictions.Add(predicted == label ? $"[green]{predicted}[/]" : $"[red]{predicted}/{label}[/]");
            }
            table.AddRow(height.ToString(), info.Round.ToString(), info.Transactions.ToString(), info.Inferences.ToString(),
                double.IsNaN(info.FinalityMs) ? "-" : info.FinalityMs.ToString("F0"), string.Join(" ", predictions),
                info.ReceiptsIdentical ? "[green]yes[/]" : "[red]NO[/]", info.StateRoot.ToString()[..12]);
            console.MarkupLine($"height {height}: {info.Transactions} txs ({info.Inferences} inference), round {info.Round}, " +
                $"block {info.BlockHash.ToString()[..12]}, receipts identical on all validators: {(info.ReceiptsIdentical ? "[green]yes[/]" : "[red]NO[/]")}");
        }
        var elapsed = clock.Elapsed.TotalSeconds;
        console.Write(table);
        console.MarkupLine($"{blocks} heights, {txTotal} transactions in {elapsed:F1} s ({txTotal / elapsed:F1} tx/s); " +
            $"{inferred} inferences, {correct} predicted the label; {devnet.MessagesDelivered} consensus messages delivered, {devnet.MessagesRefused} refused");
        console.MarkupLine(allIdentical
            ? "[green]every validator stored identical blocks and receipts at every height[/]"
            : "[red]validators disagree on blocks or receipts[/]");
        return allIdentical ? 0 : 1;
    }

    private static void Submit(InProcessDevnet devnet, PrivateKey[] accounts, ulong[] nonces, int pick, TransactionBody body, ulong fee)
    {
        int a = pick % accounts.Length;
        var tx = new Transaction(devnet.Genesis.ChainId, accounts[a].PublicKey, nonces[a], fee, body).Sign(accounts[a]);
        if (devnet.Submit(tx) is { } rejection) throw new CliException($"the devnet refused a transaction: {rejection}");
        nonces[a]++;
    }
}
