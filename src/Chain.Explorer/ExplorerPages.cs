using System.Collections.Concurrent;
using System.Globalization;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Hashing;
using Chain.Core.Protocol;
using Chain.Core.State;
using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Explorer;

/// <summary>A rendered page: its status code and the complete HTML document.</summary>
internal sealed record ExplorerPage(int Status, string Html);

/// <summary>
/// The server-rendered pages (docs/explorer.md). Each reads the node's committed data once and writes a complete
/// document; the script modules it names only add live updates and in-browser verification.
/// </summary>
internal sealed class ExplorerPages(ExplorerSource source)
{
    /// <summary>How many recent blocks the front page lists.</summary>
    public const int RecentBlocks = 20;

    private const int TopK = 5;

    // A model's float interface, parsed once per model (its bytes never change once registered).
    private readonly ConcurrentDictionary<Hash32, QuantizationMetadata?> _metadata = new();

    private string ChainId => source.ChainId.Value;

    public ExplorerPage Home()
    {
        var body = new Html().Heading(1, "Latest blocks");
        var latest = source.Blocks.LatestHeight;
        if (latest is null)
            return Ok("Latest blocks", body.Paragraph("No block has been committed yet.").Raw("<ol id=\"live-blocks\" hidden></ol>"), "live.js");
        var rows = new List<IReadOnlyList<string>>();
        for (ulong h = latest.Value.Value; h >= 1 && rows.Count < RecentBlocks; h--)
        {
            if (source.Blocks.LoadBlock(new Height(h)) is not { } block) continue;
            rows.Add(BlockRow(h, block.Hash.ToString(), block.Transactions.Count, block.Header.TimeMs, block.Header.Proposer.ToString()));
        }
        body.Paragraph($"Height {latest.Value.Value}. New blocks appear here as they are committed when JavaScript is on; reload otherwise.");
        body.Table("Most recent blocks, newest first", ["Height", "Hash", "Transactions", "Time (UTC)", "Proposer"], rows, id: "blocks");
        return Ok("Latest blocks", body, "live.js");
    }

    public static IReadOnlyList<string> BlockRow(ulong height, string hash, int txCount, ulong timeMs, string proposer) =>
    [
        Html.A($"/explorer/blocks/{height}", height.ToString(CultureInfo.InvariantCulture)),
        Html.Code(Short(hash)), txCount.ToString(CultureInfo.InvariantCulture), Html.Encode(Time(timeMs)),
        Html.A($"/explorer/accounts/{proposer}", Short(proposer)),
    ];

    public ExplorerPage Block(string heightText)
    {
        if (!TryHeight(heightText, out var h))
            return Problem(400, "Bad height", $"height must be a decimal number from 1 without leading zeros; got '{Truncate(heightText)}'");
        if (source.Blocks.LoadBlock(new Height(h)) is not { } block)
            return Problem(404, "No such block", $"no block at height {h} (latest is {source.Blocks.LatestHeight?.ToString() ?? "none"})");
        var header = block.Header;
        var body = new Html().Heading(1, $"Block {h}");
        body.Fields(
        [
            ("Hash", Html.Code(header.Hash.ToString()), true),
            ("Chain", header.ChainId.Value, false),
            ("Version", header.Version.ToString(CultureInfo.InvariantCulture), false),
            ("Time (UTC)", Time(header.TimeMs), false),
            ("Proposer", Html.A($"/explorer/accounts/{header.Proposer}", header.Proposer.ToString()), true),
            ("Previous block", h > 1 ? Html.A($"/explorer/blocks/{h - 1}", header.LastBlockHash.ToString()) : Html.Code(header.LastBlockHash.ToString()), true),
            ("Last commit hash", Html.Code(header.LastCommitHash.ToString()), true),
            ("Transactions root", Html.Code(header.TransactionsRoot.ToString()), true),
            ("Receipts root", Html.Code(header.ReceiptsRoot.ToString()), true),
            ("State root", Html.Code(header.StateRoot.ToString()), true),
            ("Validators hash", Html.Code(header.ValidatorsHash.ToString()), true),
            ("Next validators hash", Html.Code(header.NextValidatorsHash.ToString()), true),
            ("Evidence root", Html.Code(header.EvidenceRoot.ToString()), true),
        ]);

        // The commit the chain recorded for h is block h+1's lastCommit; for the latest height, the node's own.
        var commit = source.Blocks.LoadBlock(new Height(h + 1))?.LastCommit ?? source.Blocks.LoadCommit(new Height(h));
        body.Heading(2, "Commit");
        if (commit is null) body.Paragraph("The node holds no commit for this height.");
        else
        {
            var set = source.ValidatorsAt(new Height(h))?.Set;
            ulong signed = 0;
            var rows = new List<IReadOnlyList<string>>();
            foreach (var s in commit.Signatures)
            {
                ulong power = set is not null && set.TryGet(s.Validator, out var v, out _) ? v.Power : 0;
                signed += power;
                rows.Add([Html.A($"/explorer/accounts/{s.Validator}", s.Validator.ToString()), power.ToString(CultureInfo.InvariantCulture), Html.Encode(Time(s.TimestampMs))]);
            }
            body.Paragraph($"Round {commit.Round.Value}; {commit.Signatures.Count} precommits carrying power {signed} of {set?.TotalPower.ToString(CultureInfo.InvariantCulture) ?? "?"}.");
            body.Table("Commit signers", ["Validator", "Power", "Signed at (UTC)"], rows, id: "signers");
        }

        body.Heading(2, "Transactions");
        if (block.Transactions.Count == 0) body.Paragraph("No transactions.");
        else
            body.Table($"{block.Transactions.Count} transactions in block order", ["#", "Hash", "Kind", "Sender", "Fee"],
                block.Transactions.Select((t, i) => (IReadOnlyList<string>)
                [
                    i.ToString(CultureInfo.InvariantCulture), Html.A($"/explorer/txs/{t.Hash}", Short(t.Hash.ToString())),
                    Html.Encode(t.Transaction.Body.Kind.ToString()), Html.A($"/explorer/accounts/{t.Transaction.SenderAddress}", Short(t.Transaction.SenderAddress.ToString())),
                    t.Transaction.Fee.ToString(CultureInfo.InvariantCulture),
                ]));

        body.Heading(2, "Evidence");
        if (block.Evidence.Count == 0) body.Paragraph("No evidence.");
        else
            body.Table($"{block.Evidence.Count} evidence items", ["#", "Hash", "Bytes"],
                block.Evidence.Select((e, i) => (IReadOnlyList<string>)
                [
                    i.ToString(CultureInfo.InvariantCulture),
                    Html.Code(DomainHash.Compute(HashDomain.Evidence, e.Span).ToString()), e.Length.ToString(CultureInfo.InvariantCulture),
                ]));

        VerifySection(body, $"data-height=\"{h}\"", "the header hash, the commit's signatures and their power against your trusted validator set");
        return Ok($"Block {h}", body, "verify.js");
    }

    public ExplorerPage Transaction(string hashText)
    {
        if (!IsLowerHex(hashText, 64) || !Hash32.TryParse(hashText, out var txHash))
            return Problem(400, "Bad transaction hash", $"transaction hash must be 64 lower-case hex characters, got '{Truncate(hashText)}'");
        if (source.Blocks.FindTransaction(txHash) is not var (height, index))
            return Problem(404, "No such transaction", $"transaction {txHash} is not in any committed block");
        var block = source.Blocks.LoadBlock(height);
        var receipt = source.Blocks.LoadReceipt(height, index);
        if (block is null || receipt is null || index >= block.Transactions.Count)
            return Problem(503, "Not readable yet", $"block {height} is indexed but not readable yet; retry");
        var signed = block.Transactions[index];
        var t = signed.Transaction;
        var body = new Html().Heading(1, $"Transaction {Short(txHash.ToString())}");
        var fields = new List<(string, string, bool)>
        {
            ("Hash", Html.Code(txHash.ToString()), true),
            ("Block", Html.A($"/explorer/blocks/{height.Value}", $"{height.Value} (index {index})"), true),
            ("Kind", t.Body.Kind.ToString(), false),
            ("Sender", Html.A($"/explorer/accounts/{t.SenderAddress}", t.SenderAddress.ToString()), true),
            ("Nonce", t.Nonce.ToString(CultureInfo.InvariantCulture), false),
            ("Fee", t.Fee.ToString(CultureInfo.InvariantCulture), false),
        };
        switch (t.Body)
        {
            case TransferBody b:
                fields.Add(("Recipient", Html.A($"/explorer/accounts/{b.Recipient}", b.Recipient.ToString()), true));
                fields.Add(("Amount", b.Amount.ToString(CultureInfo.InvariantCulture), false));
                break;
            case RegisterModelBody b:
                fields.Add(("Model", Html.A($"/explorer/models/{b.ModelId}", $"{b.Name} ({Short(b.ModelId.ToString())})"), true));
                fields.Add(("Model bytes", b.ModelBytes.Length.ToString(CultureInfo.InvariantCulture), false));
                break;
            case InferBody b:
                fields.Add(("Model", Html.A($"/explorer/models/{b.ModelId}", b.ModelId.ToString()), true));
                fields.Add(("Input bytes", b.Input.Length.ToString(CultureInfo.InvariantCulture), false));
                fields.Add(("Max gas", b.MaxGas.ToString(CultureInfo.InvariantCulture), false));
                break;
        }
        body.Fields(fields);

        body.Heading(2, "Receipt");
        body.Fields(
        [
            ("Status", receipt.Status.ToString(), false),
            ("Gas used", receipt.GasUsed.ToString(CultureInfo.InvariantCulture), false),
            ("Receipt hash", Html.Code(receipt.Hash.ToString()), true),
        ]);
        if (receipt.Inference is { } inference) InferenceSection(body, inference, t.Body as InferBody);

        VerifySection(body, $"data-height=\"{height.Value}\" data-tx=\"{txHash}\"",
            "the block's header and commit as on the block page, then the transaction's and the receipt's Merkle proofs against that header");
        if (receipt.Inference is null || t.Body is not InferBody)
            return Ok($"Transaction {Short(txHash.ToString())}", body, "verify.js");
        ReexecuteSection(body, $"data-height=\"{height.Value}\" data-tx=\"{txHash}\"");
        return Ok($"Transaction {Short(txHash.ToString())}", body, "verify.js", "reexec.js");
    }

    private void InferenceSection(Html body, InferenceResult inference, InferBody? request)
    {
        body.Heading(2, "Inference");
        body.Fields(
        [
            ("Model", Html.A($"/explorer/models/{inference.ModelId}", inference.ModelId.ToString()), true),
            ("Semantics version", inference.SemanticsVersion.ToString(CultureInfo.InvariantCulture), false),
            ("Input hash", Html.Code(inference.InputHash.ToString()), true),
            ("Output hash", Html.Code(inference.OutputHash.ToString()), true),
        ]);
        var info = LoadModel(inference.ModelId);
        if (info is null)
        {
            body.Paragraph($"The model is not registered in the current state; the output is {inference.Output.Length} bytes.");
            return;
        }
        var metadata = Metadata(inference.ModelId);
        if (request is not null && OutputTensor.TryDecode(request.Input, null, out _) is { } input
            && ImageOf(input) is { } image)
            body.Heading(3, "Input").Raw(image);

        var output = OutputTensor.TryDecode(inference.Output, metadata, out var reason);
        body.Heading(3, "Output");
        if (output is null) { body.Paragraph($"The output could not be read as {info.Output}: {reason}."); return; }
        body.Paragraph($"Tensor {info.Output}: {output.Values.Length} values."
            + (output.Dequantized is null ? " The model records no quantization, so values are shown as integers." : " Real values are (q − zero point) · scale from the model's quantization metadata."));
        body.Table("Top classes", ["Rank", "Index", "Label", "Quantized", "Real"],
            output.TopK(TopK).Select((p, r) => (IReadOnlyList<string>)
            [
                (r + 1).ToString(CultureInfo.InvariantCulture), p.Index.ToString(CultureInfo.InvariantCulture), Html.Encode(p.Label ?? "—"),
                p.Value.ToString(CultureInfo.InvariantCulture), p.Real is { } x ? x.ToString("G6", CultureInfo.InvariantCulture) : "—",
            ]), id: "top-k");
        body.Raw("<details><summary>All output values</summary>")
            .Element("p", string.Join(", ", output.Values.Select(v => v.ToString(CultureInfo.InvariantCulture))), "class=\"values\"")
            .Raw("</details>");
    }

    // An input whose trailing dimensions look like a picture (a square of 8..64 pixels per side, one channel) as an SVG.
    private static string? ImageOf(OutputTensor input)
    {
        int n = input.Values.Length;
        int side = (int)Math.Round(Math.Sqrt(n));
        if (side * side != n || side is < 8 or > 64) return null;
        long min = input.Values.Min(), max = Math.Max(input.Values.Max(), min + 1);
        var svg = new System.Text.StringBuilder();
        svg.Append($"<svg class=\"input-image\" role=\"img\" aria-label=\"input drawn as a {side} by {side} grey-scale image\" viewBox=\"0 0 {side} {side}\" width=\"{side * 6}\" height=\"{side * 6}\" shape-rendering=\"crispEdges\">");
        for (int i = 0; i < n; i++)
        {
            int g = (int)((input.Values[i] - min) * 255 / (max - min));
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{i % side}\" y=\"{i / side}\" width=\"1\" height=\"1\" fill=\"rgb({g},{g},{g})\"/>");
        }
        return svg.Append("</svg>").ToString();
    }

    public ExplorerPage Model(string idText)
    {
        if (!IsLowerHex(idText, 64) || !Hash32.TryParse(idText, out var id))
            return Problem(400, "Bad model id", $"model id must be 64 lower-case hex characters, got '{Truncate(idText)}'");
        if (LoadModel(id) is not { } info) return Problem(404, "No such model", $"no model {id} is registered");
        var metadata = Metadata(id);
        var body = new Html().Heading(1, $"Model {info.Name}");
        body.Fields(
        [
            ("Id", Html.Code(id.ToString()), true),
            ("Name", info.Name, false),
            ("Owner", Html.A($"/explorer/accounts/{info.Owner}", info.Owner.ToString()), true),
            ("Input", info.Input.ToString(), false),
            ("Output", info.Output.ToString(), false),
            ("Gas per inference", info.Gas.ToString(CultureInfo.InvariantCulture), false),
            ("Multiply-accumulates", info.Macs.ToString(CultureInfo.InvariantCulture), false),
            ("Registered at height", info.RegisteredAt.ToString(CultureInfo.InvariantCulture), false),
            ("Model bytes", (source.ReadState(StateKeys.ModelCode(id))?.Length ?? 0).ToString(CultureInfo.InvariantCulture), false),
            ("Quantization metadata", metadata is null ? "none recorded" : string.Join("; ", metadata.Outputs.Select(o => $"output {o.Name}: scale {o.Scale.ToString("R", CultureInfo.InvariantCulture)}, zero point {o.ZeroPoint}")), false),
            ("Labels", metadata?.Labels is { } l ? string.Join(", ", l) : "none recorded", false),
        ]);
        VerifySection(body, $"data-model=\"{id}\"",
            "that the model bytes hash to this id and are in the state under the state root of a header signed by your trusted validators");
        return Ok($"Model {info.Name}", body, "verify.js");
    }

    public ExplorerPage Account(string addressText)
    {
        if (!IsLowerHex(addressText, 40) || !Address.TryParse(addressText, out var address))
            return Problem(400, "Bad address", $"address must be 40 lower-case hex characters, got '{Truncate(addressText)}'");
        var bytes = source.ReadState(StateKeys.Account(address));
        var account = bytes is null ? Core.State.Account.Empty : Canonical.Decode<Core.State.Account>(bytes);
        var body = new Html().Heading(1, $"Account {Short(address.ToString())}");
        body.Fields(
        [
            ("Address", Html.Code(address.ToString()), true),
            ("Balance", account.Balance.ToString(CultureInfo.InvariantCulture), false),
            ("Nonce", account.Nonce.ToString(CultureInfo.InvariantCulture), false),
        ]);
        if (bytes is null) body.Paragraph("This account holds nothing in the committed state.");
        return Ok($"Account {Short(address.ToString())}", body);
    }

    public ExplorerPage Validators()
    {
        var next = new Height((source.Blocks.LatestHeight?.Value ?? 0) + 1);
        var body = new Html().Heading(1, $"Validators of height {next.Value}");
        if (source.ValidatorsAt(next) is not { } active) return Ok("Validators", body.Paragraph("The validator set is not known yet."));
        body.Paragraph($"Set hash {active.Set.Hash}; total power {active.Set.TotalPower}; active since height {active.ActiveSince.Value}.");
        body.Table("Validators in set order", ["Address", "Public key", "Power"],
            active.Set.Validators.Select(v => (IReadOnlyList<string>)
            [
                Html.A($"/explorer/accounts/{v.Address}", v.Address.ToString()),
                Html.Code(Convert.ToHexStringLower(v.PublicKey.Bytes)), v.Power.ToString(CultureInfo.InvariantCulture),
            ]), id: "validators");
        return Ok("Validators", body);
    }

    /// <summary>The search box: a height, a transaction hash, a model id or an address, to its page.</summary>
    public string? SearchTarget(string? query)
    {
        var q = (query ?? "").Trim().ToLowerInvariant();
        if (TryHeight(q, out var h)) return $"/explorer/blocks/{h}";
        if (IsLowerHex(q, 40)) return $"/explorer/accounts/{q}";
        if (IsLowerHex(q, 64) && Hash32.TryParse(q, out var hash))
            return source.ReadState(StateKeys.Model(hash)) is not null ? $"/explorer/models/{q}" : $"/explorer/txs/{q}";
        return null;
    }

    public ExplorerPage SearchMiss(string? query) =>
        Problem(400, "Nothing to find", $"'{Truncate(query ?? "")}' is not a height, a 64-hex transaction hash or model id, or a 40-hex address");

    private ModelInfo? LoadModel(Hash32 id) => source.ReadState(StateKeys.Model(id)) is { } bytes ? Canonical.Decode<ModelInfo>(bytes) : null;

    private QuantizationMetadata? Metadata(Hash32 id) => _metadata.GetOrAdd(id, key =>
    {
        if (source.ReadState(StateKeys.ModelCode(key)) is not { } code) return null;
        try { return QuantizationMetadata.From(OnnxModel.Parse(code)); }
        catch (FormatException) { return null; } // malformed metadata is informational only: show integers
    });

    private static void VerifySection(Html body, string dataAttributes, string what)
    {
        body.Raw($"<section id=\"verify\" aria-labelledby=\"verify-heading\" {dataAttributes}>");
        body.Raw("<h2 id=\"verify-heading\">Verify in this browser</h2>");
        body.Paragraph($"Your browser can check {what}, with its own WebCrypto (SHA-256, Ed25519), without trusting this node. It needs JavaScript.");
        body.Raw("<p class=\"trust\"></p><button type=\"button\" id=\"verify-button\" disabled=\"disabled\">Verify</button>");
        body.Raw("<ol id=\"checks\" class=\"checks\" aria-live=\"polite\"></ol></section>");
    }

    // reexec.js fills in the operators it implements (one place: infer.js) and runs the model on the proven input.
    private static void ReexecuteSection(Html body, string dataAttributes)
    {
        body.Raw($"<section id=\"reexec\" aria-labelledby=\"reexec-heading\" {dataAttributes}>");
        body.Raw("<h2 id=\"reexec-heading\">Re-execute in this browser</h2>");
        body.Paragraph("Your browser can prove the transaction, the receipt and the model bytes as Verify does, then run the model on the proven input "
            + "with its own implementation of the chain's integer inference semantics (a second implementation, in JavaScript) and compare the output "
            + "with the receipt's, byte for byte. It needs JavaScript.");
        body.Raw("<p class=\"ops\"></p><button type=\"button\" id=\"reexec-button\" disabled=\"disabled\">Re-execute in this browser</button>");
        body.Raw("<p id=\"reexec-result\" role=\"status\"></p><ol id=\"reexec-checks\" class=\"checks\"></ol></section>");
    }

    private ExplorerPage Ok(string title, Html body, params string[] scripts) => new(200, Html.Document(title, ChainId, body, scripts));

    private ExplorerPage Problem(int status, string title, string message) =>
        new(status, Html.Document(title, ChainId, new Html().Heading(1, title).Element("p", message, "class=\"error\"")));

    private static string Time(ulong ms) =>
        DateTimeOffset.FromUnixTimeMilliseconds(checked((long)ms)).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);

    private static string Short(string hex) => hex.Length <= 16 ? hex : $"{hex[..8]}…{hex[^6..]}";

    private static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "...";

    // The RPC's path rules (docs/rpc.md): decimal heights from 1 without leading zeros, lower-case hex.
    internal static bool TryHeight(string text, out ulong height)
    {
        height = 0;
        if (text.Length is 0 or > 20 || text[0] == '0' || text.Any(c => c is < '0' or > '9')) return false;
        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out height);
    }

    internal static bool IsLowerHex(string text, int length) =>
        text.Length == length && text.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');
}
