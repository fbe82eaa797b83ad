using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Chain.Core;
using Chain.Core.Protocol;
using Chain.Rpc;
using Chain.Core.State;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain query status|block H|receipt TXHASH|account ADDR|model ID --node URL [--json]`: read from a node.
/// Receipts, accounts and models are checked against their proofs before they are printed.
/// </summary>
internal static class QueryCommand
{
    public static Command Create()
    {
        var command = new Command("query", "Read chain data from a node (proofs checked)");
        command.Add(Leaf("status", "Node status", null, (client, _, json, output) =>
        {
            var s = NodeOptions.Call(() => client.StatusAsync());
            Print(output, json, s, $"{s.ChainId} height {s.Height} block {s.LatestBlockHash ?? "-"} state {s.StateRoot} peers {s.PeersConnected}{(s.Syncing ? " (syncing)" : "")} mempool {s.MempoolTransactions}");
        }));
        command.Add(Leaf("block", "A block by height (or 'latest')", "HEIGHT", (client, arg, json, output) =>
        {
            ulong? height = arg == "latest" ? null
                : ulong.TryParse(arg, NumberStyles.None, CultureInfo.InvariantCulture, out var h) && h > 0 ? h
                : throw new CliException($"HEIGHT must be a number from 1 or 'latest', got '{arg}'");
            var (served, _) = NodeOptions.Call(() => client.BlockAsync(height));
            Print(output, json, served, $"block {served.Header.Height} {served.Header.Hash} time {served.Header.TimeMs} txs {served.Transactions.Count} state {served.Header.StateRoot} proposer {served.Header.Proposer}");
        }));
        command.Add(ReceiptCommand());
        command.Add(Leaf("account", "An account's balance and nonce, proven against the state root", "ADDRESS", (client, arg, json, output) =>
        {
            if (!Address.TryParse(arg, out var address)) throw new CliException($"ADDRESS must be 40 hex characters, got '{arg}'");
            var v = NodeOptions.Call(() => client.AccountAsync(address));
            Print(output, json, new { address = address.ToString(), balance = v.Account.Balance, nonce = v.Account.Nonce, height = v.Height, verified = true },
                $"{address}: balance {v.Account.Balance}, nonce {v.Account.Nonce} (at height {v.Height}, proof verified)");
        }));
        command.Add(Leaf("model", "A registered model, proven against the state root", "MODEL_ID", (client, arg, json, output) =>
        {
            if (!Hash32.TryParse(arg, out var id)) throw new CliException($"MODEL_ID must be 64 hex characters, got '{arg}'");
            var v = NodeOptions.Call(() => client.ModelAsync(id));
            Print(output, json, v.Served, $"model {id} '{v.Info.Name}' owner {v.Info.Owner} input {v.Info.Input} output {v.Info.Output} gas {v.Info.Gas} (proof verified)");
        }));
        return command;
    }

    /// <summary>
    /// `chain query receipt TXHASH [--rerun] [--genesis FILE]`: the receipt proven against its header; with --genesis the
    /// header must also carry a commit by that genesis' validators; with --rerun an inference is re-executed here
    /// with the canonical executor (the model's bytes fetched with a state proof) and its output hash compared.
    /// </summary>
    private static Command ReceiptCommand()
    {
        var node = NodeOptions.Node();
        var json = new Option<bool>("--json") { Description = "Print as JSON" };
        var rerun = new Option<bool>("--rerun") { Description = "Re-run the inference locally (canonical executor) and compare the output hash" };
        var genesis = new Option<string?>("--genesis") { Description = "Trust only headers finalized by this genesis file's validators" };
        var txHash = new Argument<string>("TXHASH");
        var command = new Command("receipt", "A committed transaction's receipt, proven against its block header") { node, json, rerun, genesis, txHash };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var arg = result.GetValue(txHash)!;
            if (!Hash32.TryParse(arg, out var hash)) throw new CliException($"TXHASH must be 64 hex characters, got '{arg}'");
            var trusted = result.GetValue(genesis) is { } file ? HomeCommands.LoadGenesis(file).Validators : null;
            using var client = trusted is null ? NodeOptions.Client(result.GetValue(node)!) : new RpcClient(new Uri(result.GetValue(node)!), trusted);
            var v = NodeOptions.Call(() => client.TransactionAsync(hash));
            var r = v.Served.Receipt;
            string rerunText = "";
            bool? matches = null;
            IReadOnlyList<string> floatLines = [];
            if (result.GetValue(rerun))
            {
                if (v.Transaction.Transaction.Body is not InferBody infer || v.Receipt.Inference is not { } inference)
                    throw new CliException($"transaction {hash} is not an inference with a result: nothing to re-run");
                var (metadata, code) = NodeOptions.Call(() => client.FloatInterfaceAsync(infer.ModelId));
                var (outputName, localOutput) = CanonicalRerunner.Run(code, infer);
                var local = localOutput.Hash;
                matches = local == inference.OutputHash;
                rerunText = matches.Value
                    ? $"; re-executed here: output hash {local} matches"
                    : $"; re-executed here: output hash {local} DIFFERS from the receipt's {inference.OutputHash}";
                if (Core.Codec.Canonical.TryDecode<Inference.Tensor>(inference.Output, out var committed, out _))
                    floatLines = FloatTensors.Describe(outputName, committed!, metadata);
            }
            var trust = trusted is null ? "proofs verified" : "proofs verified, header finalized by the genesis validators";
            Print(output, result.GetValue(json), new { receipt = v.Served, verified = true, finalizedByTrustedValidators = trusted is not null, rerunMatches = matches },
                $"tx {hash} in block {v.Served.Height} index {v.Served.Index}: {r.Status}, gas used {r.GasUsed}" +
                (r.Inference is { } i ? $", output {i.OutputHash}" : "") + $" ({trust}){rerunText}");
            if (!result.GetValue(json))
                foreach (var line in floatLines) output.WriteLine($"  {line}");
            return matches == false ? 3 : 0;
        }));
        return command;
    }

    private static Command Leaf(string name, string description, string? argumentName, Action<RpcClient, string, bool, TextWriter> body)
    {
        var node = NodeOptions.Node();
        var json = new Option<bool>("--json") { Description = "Print as JSON" };
        var command = new Command(name, description) { node, json };
        Argument<string>? argument = null;
        if (argumentName is not null)
        {
            argument = new Argument<string>(argumentName);
            command.Add(argument);
        }
        command.SetAction(result => CliApp.Run(result, output =>
        {
            using var client = NodeOptions.Client(result.GetValue(node)!);
            body(client, argument is null ? "" : result.GetValue(argument)!, result.GetValue(json), output);
            return 0;
        }));
        return command;
    }

    private static void Print(TextWriter output, bool json, object value, string text) =>
        output.WriteLine(json ? JsonSerializer.Serialize(value, RpcJson.Options) : text);
}
