using System.CommandLine;

namespace Chain.Cli.Commands;

/// <summary>`chain devnet [--arm64 N]` (what `make run` runs): see <see cref="Devnet.ProcessDevnet"/>; `--arm64` mixes architectures (LocalNetwork.Arm64.cs).</summary>
internal static class DevnetCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Directory for the validators' databases (recreated)", DefaultValueFactory = _ => Path.Combine(".data", "devnet") };
        var blocks = new Option<int>("--blocks") { Description = "Heights to finalize", DefaultValueFactory = _ => 8 };
        var infers = new Option<int>("--infers-per-block") { Description = "Infer transactions submitted per height", DefaultValueFactory = _ => 4 };
        var validators = new Option<int>("--validators") { Description = "Validator processes", DefaultValueFactory = _ => 4 };
        var arm64 = new Option<int>("--arm64") { Description = "Validators (the last ones) run as the linux-arm64 build (`make chain-arm64`), under qemu on x86, with the fast path off", DefaultValueFactory = _ => 0 };
        var arm64Chain = new Option<string>("--arm64-chain") { Description = "The linux-arm64 chain executable", DefaultValueFactory = _ => Lab.CrossIsa.DefaultArm64Chain };
        var emulator = new Option<string>("--emulator") { Description = "User-mode emulator for arm64 on another ISA", DefaultValueFactory = _ => Lab.CrossIsa.DefaultEmulator };
        var keep = new Option<bool>("--keep-running") { Description = "After the heights, keep the devnet up (Ctrl-C stops it) and print an RPC address to use with chain tx/query" };
        var command = new Command("devnet", "Run a local devnet: validator processes on loopback (P2P, consensus, RocksDB, real inference), a stream of MNIST inferences, identical receipts everywhere")
        {
            data, blocks, infers, validators, keep, arm64, arm64Chain, emulator,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            int count = result.GetValue(blocks), perBlock = result.GetValue(infers), n = result.GetValue(validators);
            if (count is < 1 or > 10_000 || perBlock is < 0 or > 400) throw new CliException("--blocks must be 1..10000 and --infers-per-block 0..400");
            if (n is < 1 or > 16) throw new CliException("--validators must be 1..16");
            var arm64Count = result.GetValue(arm64);
            if (arm64Count < 0 || arm64Count >= n) throw new CliException($"--arm64 must be 0..{n - 1}: at least one validator stays on this machine's build");
            Devnet.Arm64Nodes? mixed = null;
            if (arm64Count > 0)
            {
                mixed = new Devnet.Arm64Nodes(arm64Count, result.GetValue(arm64Chain)!, result.GetValue(emulator)!);
                try
                {
                    Lab.CrossIsa.Arm64Launcher(mixed.Chain, mixed.Emulator); // missing build or emulator: say so before anything starts
                }
                catch (FileNotFoundException e)
                {
                    throw new CliException($"--arm64: {e.Message}");
                }
            }
            try
            {
                return new Devnet.ProcessDevnet(output).RunAsync(result.GetValue(data)!, n, count, perBlock, result.GetValue(keep), mixed).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is Rpc.RpcClientException or HttpRequestException or TaskCanceledException)
            {
                throw new CliException($"the devnet's RPC failed: {e.Message} (node logs are in {result.GetValue(data)}/node-*/node.log)");
            }
        }));
        return command;
    }
}
