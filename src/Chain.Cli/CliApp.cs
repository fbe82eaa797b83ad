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
        root.Add(DbCommand.Create());
        root.Add(TxCommand.Create());
        root.Add(QueryCommand.Create());
        root.Add(LightCommand.Create());
        return root;
    }

    /// <summary>Set to print the stack trace of an unexpected error (a bug) as well as its one-line message.</summary>
    public const string DebugVariable = "CHAIN_DEBUG";

    /// <summary>
    /// Runs <paramref name="body"/>: the one place every command's errors are reported. Anything it throws becomes a
    /// single "error: ..." line on stderr and exit code 1 (never a stack trace): refusals and bad input with their
    /// own message, unexpected exceptions with their type as well, so a bug is still told apart from bad input.
    /// </summary>
    public static int Run(ParseResult result, Func<TextWriter, int> body)
    {
        var output = result.InvocationConfiguration.Output;
        var error = result.InvocationConfiguration.Error;
        try
        {
            return body(output);
        }
        catch (Exception e) when (IsUserError(e))
        {
            error.WriteLine($"error: {OneLine(e.Message)}");
            return 1;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            error.WriteLine($"error: unexpected {e.GetType().Name}: {OneLine(e.Message)}");
            if (Environment.GetEnvironmentVariable(DebugVariable) is { Length: > 0 }) error.WriteLine(e);
            return 1;
        }
    }

    /// <summary>Failures whose message already says what was wrong with the user's input, files or node.</summary>
    private static bool IsUserError(Exception e) => e is CliException or Core.Crypto.KeyFileException
        // Files the user named: a missing folder or a permission problem is their error, not a crash.
        or IOException or UnauthorizedAccessException
        // Models and tensors the user gave: refused, unreadable, or not what the model takes.
        or Inference.Runtime.ModelRefusedException or Inference.Kernels.InferenceException
        or Inference.Protobuf.OnnxFormatException or Inference.Runtime.OrtLoadException
        or Rpc.RpcClientException;

    /// <summary>One line, whatever the message holds (ONNX Runtime's carry newlines).</summary>
    internal static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

/// <summary>A failure the user can fix; printed as "error: message" without a stack trace.</summary>
public sealed class CliException(string message) : Exception(message);
