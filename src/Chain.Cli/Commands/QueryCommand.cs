using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Chain.Core;
using Chain.Rpc;

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
        command.Add(Leaf("receipt", "A committed transaction's receipt, proven against its block header", "TXHASH", (client, arg, json, output) =>
        {
            if (!Hash32.TryParse(arg, out var hash)) throw new CliException($"TXHASH must be 64 hex characters, got '{arg}'");
            var v = NodeOptions.Call(() => client.TransactionAsync(hash));
            var r = v.Served.Receipt;
            Print(output, json, v.Served, $"tx {hash} in block {v.Served.Height} index {v.Served.Index}: {r.Status}, gas used {r.GasUsed}" +
                (r.Inference is { } i ? $", output {i.OutputHash}" : "") + " (proofs verified)");
        }));
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
