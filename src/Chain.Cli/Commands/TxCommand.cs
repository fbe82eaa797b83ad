using System.CommandLine;
using System.Text.Json;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;
using Chain.Node;
using Chain.Rpc;
using Chain.Core.State;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain tx transfer|register-model|infer|create-validator|bond|unbond|unjail`: build, sign and submit a transaction to a node over RPC. The nonce
/// comes from the (proof-checked) account query; --wait waits for the block and prints the receipt.
/// </summary>
internal static class TxCommand
{
    public static Command Create()
    {
        var command = new Command("tx", "Sign and submit transactions to a node");
        command.Add(Transfer());
        command.Add(RegisterModel());
        command.Add(Infer());
        command.Add(CreateValidator());
        command.Add(Stake("bond", "Delegate tokens to a validator (by its operator address)", (v, a) => new BondBody(v, a)));
        command.Add(Stake("unbond", "Start unbonding tokens from a validator; they are paid after the unbonding period", (v, a) => new UnbondBody(v, a)));
        command.Add(Unjail());
        return command;
    }

    /// <summary>`chain tx create-validator --consensus-key FILE|HEX --self-bond N`: the sender becomes the operator (docs/staking.md).</summary>
    private static Command CreateValidator()
    {
        var common = new Common();
        var consensusKey = new Option<string>("--consensus-key") { Description = "The validator's consensus key: a key file (its public key is used) or 64 hex characters", Required = true };
        var selfBond = new Option<ulong>("--self-bond") { Description = "Tokens the operator bonds to it", Required = true };
        var command = new Command("create-validator", "Create a validator operated by the sender") { consensusKey, selfBond };
        common.AddTo(command);
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var given = result.GetValue(consensusKey)!;
            PublicKey key;
            if (given.Length == 2 * PublicKey.Size && given.All(char.IsAsciiHexDigitLower)) key = PublicKey.Parse(given);
            else if (File.Exists(given)) key = KeyFile.Read(given).PublicKey;
            else throw new CliException($"--consensus-key must be a key file or 64 lower-case hex characters, got '{given}'");
            ulong bond = result.GetValue(selfBond);
            if (bond == 0) throw new CliException("--self-bond must be at least 1");
            output.WriteLine($"validator consensus address {key.Address}");
            using var client = NodeOptions.Client(result.GetValue(common.Node)!);
            return common.Submit(result, output, client, new CreateValidatorBody(key, bond));
        }));
        return command;
    }

    /// <summary>`chain tx bond|unbond VALIDATOR AMOUNT`.</summary>
    private static Command Stake(string name, string description, Func<Address, ulong, TransactionBody> body)
    {
        var common = new Common();
        var validator = new Argument<string>("VALIDATOR") { Description = "The validator's operator address (40 hex)" };
        var amount = new Argument<ulong>("AMOUNT") { Description = "Tokens" };
        var command = new Command(name, description) { validator, amount };
        common.AddTo(command);
        command.SetAction(result => CliApp.Run(result, output =>
        {
            if (!Address.TryParse(result.GetValue(validator), out var op)) throw new CliException($"VALIDATOR must be a 40-hex-character operator address, got '{result.GetValue(validator)}'");
            if (result.GetValue(amount) == 0) throw new CliException("AMOUNT must be at least 1");
            using var client = NodeOptions.Client(result.GetValue(common.Node)!);
            return common.Submit(result, output, client, body(op, result.GetValue(amount)));
        }));
        return command;
    }

    /// <summary>`chain tx unjail`: the sender's validator back into the running once its jail period is over.</summary>
    private static Command Unjail()
    {
        var common = new Common();
        var command = new Command("unjail", "Unjail the sender's validator after its jail period");
        common.AddTo(command);
        command.SetAction(result => CliApp.Run(result, output =>
        {
            using var client = NodeOptions.Client(result.GetValue(common.Node)!);
            return common.Submit(result, output, client, new UnjailBody());
        }));
        return command;
    }

    private sealed class Common
    {
        public Option<string> Node { get; } = NodeOptions.Node();
        public Option<string?> Key { get; } = new("--key") { Description = "Sender's key file" };
        public Option<string?> DevnetKey { get; } = new("--devnet-key") { Description = "Sender's published devnet key by name (e.g. account-0)" };
        public Option<ulong?> Fee { get; } = new("--fee") { Description = "Fee (default: the minimum, Gas.MinFee at the node's gas price from /status)" };
        public Option<bool> Wait { get; } = new("--wait") { Description = "Wait until the transaction is committed and print its receipt" };
        public Option<int> Timeout { get; } = new("--timeout") { Description = "Seconds to wait with --wait (1..120)", DefaultValueFactory = _ => 60 };
        public Option<bool> Json { get; } = new("--json") { Description = "Print as JSON" };

        public void AddTo(Command command)
        {
            command.Add(Node);
            command.Add(Key);
            command.Add(DevnetKey);
            command.Add(Fee);
            command.Add(Wait);
            command.Add(Timeout);
            command.Add(Json);
        }

        public PrivateKey Sender(ParseResult result)
        {
            var file = result.GetValue(Key);
            var devnet = result.GetValue(DevnetKey);
            if ((file is null) == (devnet is null)) throw new CliException("give exactly one of --key FILE or --devnet-key NAME");
            if (devnet is not null)
            {
                if (devnet.Length is 0 or > 64 || !devnet.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                    throw new CliException($"--devnet-key must be a devnet key name like account-0, got '{devnet}'");
                return DevnetKeys.For(devnet);
            }
            return KeyFile.Read(file!);
        }

        /// <summary>A chunked registration by the sender, priced with the node's parameters; waits per batch up to --timeout.</summary>
        public ChunkedUpload Chunked(ParseResult result, TextWriter output, RpcClient client)
        {
            int timeout = result.GetValue(Timeout);
            if (timeout is < 1 or > 120) throw new CliException("--timeout must be 1..120 seconds");
            if (result.GetValue(Fee) is not null) throw new CliException("--fee is not used for a chunked registration: each transaction pays its minimum fee");
            var status = NodeOptions.Call(() => client.StatusAsync());
            var parameters = (status.Params ?? throw new CliException("the node does not report its gas price in /status")).ToParameters();
            return new ChunkedUpload(client, Sender(result), parameters, new ChainId(status.ChainId), output, TimeSpan.FromSeconds(timeout));
        }

        /// <summary>Signs the body with the sender's next nonce (from the node) and submits it.</summary>
        public int Submit(ParseResult result, TextWriter output, RpcClient client, TransactionBody body,
            Func<Inference.Tensor, IReadOnlyList<string>>? describeOutput = null)
        {
            int timeout = result.GetValue(Timeout);
            if (timeout is < 1 or > 120) throw new CliException("--timeout must be 1..120 seconds");
            var key = Sender(result);
            var status = NodeOptions.Call(() => client.StatusAsync());
            var account = NodeOptions.Call(() => client.AccountAsync(key.Address));
            ulong fee = result.GetValue(Fee) ?? Execution.Gas.MinFee(body, (status.Params ?? throw new CliException("the node does not report its gas price in /status: give --fee")).ToParameters());
            var tx = new Transaction(new ChainId(status.ChainId), key.PublicKey, account.Account.Nonce, fee, body).Sign(key);
            var mode = result.GetValue(Wait) ? SubmitMode.Commit : SubmitMode.Sync;
            var response = NodeOptions.Call(() => client.SubmitAsync(tx, mode, TimeSpan.FromSeconds(timeout)));
            if (result.GetValue(Json))
            {
                output.WriteLine(JsonSerializer.Serialize(response, RpcJson.Options));
                return 0;
            }
            output.WriteLine($"transaction {response.Hash}: {response.Status} (nonce {tx.Transaction.Nonce}, fee {tx.Transaction.Fee})");
            if (response.Receipt is { } receipt)
            {
                output.WriteLine($"height {response.Height}, index {response.Index}: {receipt.Status}, gas used {receipt.GasUsed}");
                if (receipt.Inference is { } inference)
                {
                    var outputBytes = Convert.FromBase64String(inference.Output);
                    output.WriteLine($"output {inference.OutputHash} ({outputBytes.Length} bytes)");
                    if (describeOutput is not null && Canonical.TryDecode<Inference.Tensor>(outputBytes, out var tensor, out _))
                        foreach (var line in describeOutput(tensor!)) output.WriteLine($"  {line}");
                }
            }
            return 0;
        }
    }

    private static Command Transfer()
    {
        var common = new Common();
        var to = new Option<string>("--to") { Description = "Recipient address (40 hex)", Required = true };
        var amount = new Option<ulong>("--amount") { Description = "Amount to send", Required = true };
        var command = new Command("transfer", "Send tokens to an address") { to, amount };
        common.AddTo(command);
        command.SetAction(result => CliApp.Run(result, output =>
        {
            if (!Address.TryParse(result.GetValue(to), out var recipient)) throw new CliException($"--to must be a 40-hex-character address, got '{result.GetValue(to)}'");
            using var client = NodeOptions.Client(result.GetValue(common.Node)!);
            return common.Submit(result, output, client, new TransferBody(recipient, result.GetValue(amount)));
        }));
        return command;
    }

    private static Command RegisterModel()
    {
        var common = new Common();
        var model = new Option<string>("--model") { Description = "ONNX model file", Required = true };
        var name = new Option<string?>("--name") { Description = "Model name (default: the file name)" };
        var command = new Command("register-model", "Register an ONNX model on chain (over 4 MiB: in 1 MiB chunks, resumable by running it again)") { model, name };
        common.AddTo(command);
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var path = result.GetValue(model)!;
            var info = new FileInfo(path);
            if (info.Exists && info.Length > ProtocolLimits.MaxModelBytes) throw new CliException($"{path} is {info.Length} bytes, the limit is {ProtocolLimits.MaxModelBytes}");
            var bytes = InferCommand.ReadFile(path, "model");
            var modelName = result.GetValue(name) ?? Path.GetFileNameWithoutExtension(path);
            if (System.Text.Encoding.UTF8.GetByteCount(modelName) > ProtocolLimits.MaxModelNameBytes) throw new CliException($"--name is longer than {ProtocolLimits.MaxModelNameBytes} bytes");
            // The chain's own registration check, here: on chain a refused model still costs the sender its fee.
            var check = Execution.ModelRegistry.Check(bytes, Address.Zero, modelName, 0);
            if (!check.Accepted) throw new CliException($"{path}: {check.Refusal} (run `chain model check {path}` for the full report)");
            using var client = NodeOptions.Client(result.GetValue(common.Node)!);
            if (bytes.Length > ProtocolLimits.MaxRegisterModelBytes)
                return common.Chunked(result, output, client).Run(modelName, bytes);
            var body = new RegisterModelBody(modelName, bytes);
            output.WriteLine($"model id {body.ModelId}");
            return common.Submit(result, output, client, body);
        }));
        return command;
    }

    private static Command Infer()
    {
        var common = new Common();
        var model = new Option<string>("--model") { Description = "Model id (64 hex)", Required = true };
        var input = new Option<string?>("--input")
        {
            Description = "Input tensor: canonical .bin, NumPy .npy, ONNX TensorProto .pb, or JSON (a flat array of the input's u8/i8 values, nested arrays, or {dtype,shape,data}); float32 input is quantized with the model's recorded parameters",
        };
        var digit = new Option<int?>("--digit") { Description = "Use genesis test digit N (0-based) as the input" };
        var maxGas = new Option<ulong>("--max-gas") { Description = "Most gas the inference may use", DefaultValueFactory = _ => 1_000_000 };
        var command = new Command("infer", "Run a registered model on chain") { model, input, digit, maxGas };
        common.AddTo(command);
        command.SetAction(result => CliApp.Run(result, output =>
        {
            if (!Hash32.TryParse(result.GetValue(model), out var modelId)) throw new CliException($"--model must be a 64-hex-character model id, got '{result.GetValue(model)}'");
            var file = result.GetValue(input);
            var n = result.GetValue(digit);
            if ((file is null) == (n is null)) throw new CliException("give exactly one of --input FILE or --digit N");
            using var client = NodeOptions.Client(result.GetValue(common.Node)!);
            // The model's proven signature: an unknown model or a wrong input is refused here, before any fee is at stake.
            var signature = NodeOptions.Call(() => client.ModelAsync(modelId)).Info.Input;
            QuantizationMetadata? metadata = null;
            string? outputName = null;
            byte[] tensor;
            if (n is { } d) tensor = DigitInput(d);
            else
            {
                var given = FileInput(file!, signature);
                if (given.ElementType == TensorElementType.Float || result.GetValue(common.Wait))
                {
                    // The float interface comes from the model's own proof-checked bytes, not from the serving node's word.
                    var (m, code) = NodeOptions.Call(() => client.FloatInterfaceAsync(modelId));
                    metadata = m;
                    var parsed = OnnxModel.Parse(code);
                    outputName = parsed.Graph.Outputs[0].Name;
                    given = FloatTensors.Prepare(given, parsed.Graph.Inputs.First(i => parsed.Graph.FindInitializer(i.Name) is null).Name, metadata);
                }
                tensor = Canonical.Encode(given);
            }
            if (!Canonical.TryDecode<Tensor>(tensor, out var decoded, out _) || !signature.Matches(decoded!))
                throw new CliException($"the input is {decoded?.ToString() ?? "not a tensor"}; model {modelId} takes {signature}");
            ulong gas = result.GetValue(maxGas);
            return common.Submit(result, output, client, new InferBody(modelId, tensor, gas),
                metadata is null ? null : t => FloatTensors.Describe(outputName!, t, metadata));
        }));
        return command;
    }

    private static byte[] DigitInput(int digit)
    {
        var dir = GenesisModels.Locate(Directory.GetCurrentDirectory()) ?? throw new CliException("--digit needs genesis/models in this folder or above it");
        var digits = GenesisModels.Load(dir)[0].Digits;
        if (digit < 0 || digit >= digits.Count) throw new CliException($"--digit must be 0..{digits.Count - 1}");
        return Canonical.Encode(GenesisModels.ImageTensor(digits[digit].Pixels));
    }

    /// <summary>
    /// An input file: any tensor file <see cref="FloatTensors.Read"/> takes; a JSON flat array of numbers is read as the
    /// model input's u8/i8 values (the devnet's digit files).
    /// </summary>
    private static Tensor FileInput(string path, Execution.TensorSignature signature)
    {
        var info = new FileInfo(path);
        if (info.Exists && info.Length > 8L * ProtocolLimits.MaxTensorBytes) throw new CliException($"{path} is too large for an input tensor");
        if (!path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return FloatTensors.Read(path);
        var bytes = InferCommand.ReadFile(path, "input");
        int[]? values = null;
        try
        {
            values = JsonSerializer.Deserialize<int[]>(bytes);
        }
        catch (JsonException)
        {
            // Not a flat integer array: nested arrays or {dtype, shape, data}.
        }
        if (values is null) return FloatTensors.Read(path);
        if (signature.ElementType is not (TensorElementType.UInt8 or TensorElementType.Int8))
            throw new CliException($"a flat JSON array is read as u8/i8 values; this model takes {signature}; give {{\"dtype\",\"shape\",\"data\"}} or a .npy file");
        if (values.Length != signature.DataBytes) throw new CliException($"{path} has {values.Length} values, the model's input {signature} needs {signature.DataBytes}");
        int min = signature.ElementType == TensorElementType.UInt8 ? 0 : -128, max = signature.ElementType == TensorElementType.UInt8 ? 255 : 127;
        if (values.Any(v => v < min || v > max)) throw new CliException($"{path}: values must be {min}..{max}");
        return Tensor.Create(signature.ElementType, signature.Shape, values.Select(v => (byte)v).ToArray());
    }
}
