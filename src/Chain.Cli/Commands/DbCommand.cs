using System.CommandLine;
using Chain.Execution;
using Chain.Node;
using Chain.Storage;

namespace Chain.Cli.Commands;

/// <summary>`chain db check`: verifies a stopped node's store (docs/node.md).</summary>
internal static class DbCommand
{
    public static Command Create()
    {
        var check = new Command("check", "Verify a stopped node's store: table files against the manifest, every block's hash chain and commit, the state root against the last header");
        check.SetAction(result => CliApp.Run(result, output =>
        {
            var home = new NodeHome(result.GetValue(CliApp.Home)!);
            if (!home.Exists) throw new CliException($"{home.Root} has no config.toml: not a node home");
            StoreCheckReport report;
            try
            {
                report = StoreCheck.Run(home, output.WriteLine);
            }
            catch (StoreInUseException e)
            {
                throw new CliException($"{e.Message}: stop the node first");
            }
            catch (Exception e) when (e is StorageException or GenesisException)
            {
                throw new CliException(e.Message);
            }
            foreach (var problem in report.Problems) output.WriteLine($"problem: {problem}");
            output.WriteLine(report.Ok
                ? $"ok: {report.BlocksChecked} blocks (height {report.LatestHeight}), hash chain and commits verified, state root {report.StateRoot} matches the last header"
                : $"damaged: {report.Problems.Count} problem(s) in {report.LatestHeight} blocks");
            return report.Ok ? 0 : 2;
        }));
        return new Command("db", "Inspect a node's store") { check };
    }
}
