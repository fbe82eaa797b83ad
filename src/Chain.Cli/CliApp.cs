using System.CommandLine;
using Chain.Cli.Commands;

namespace Chain.Cli;

/// <summary>The `chain` command tree. Commands write to the invocation's Output/Error so tests can capture them.</summary>
public static class CliApp
{
    /// <summary>Node home directory: --home, else $CHAIN_HOME, else ~/.chain.</summary>
    public static readonly Option<string> Home = new("--home")
    {
        Description = "Home directory for keys, config and data (default: $CHAIN_HOME or ~/.chain)",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CHAIN_HOME") is { Length: > 0 } env
            ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".chain"),
    };

    public static RootCommand Build()
    {
        var root = new RootCommand("chain: a BFT blockchain where deterministic int8 ONNX inference is a native transaction");
        root.Add(Home);
        root.Add(VersionCommand.Create());
        root.Add(KeysCommand.Create());
        root.Add(WalkthroughCommand.Create());
        root.Add(ModelCommand.Create());
        root.Add(InferCommand.Create());
        root.Add(ConformanceCommand.Create());
        root.Add(DeterminismCommand.Create());
        root.Add(BenchCommand.Create());
        root.Add(DeterminismCommand.CreateWorker());
        root.Add(SimulateCommand.Create());
        root.Add(DevnetCommand.Create());
        root.Add(HomeCommands.CreateInit());
        root.Add(HomeCommands.CreateTestnet());
        root.Add(StartCommand.Create());
        root.Add(TxCommand.Create());
        root.Add(QueryCommand.Create());
        return root;
    }

    /// <summary>Runs <paramref name="body"/>, turning expected failures into a one-line error and exit code 1.</summary>
    public static int Run(ParseResult result, Func<TextWriter, int> body)
    {
        var output = result.InvocationConfiguration.Output;
        var error = result.InvocationConfiguration.Error;
        try
        {
            return body(output);
        }
        catch (CliException e)
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (Core.Crypto.KeyFileException e)
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Files the user named: a missing folder or a permission problem is their error, not a crash.
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}

/// <summary>A failure the user can fix; printed as "error: message" without a stack trace.</summary>
public sealed class CliException(string message) : Exception(message);
