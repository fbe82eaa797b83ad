using System.CommandLine;
using System.Runtime.InteropServices;
using Chain.Execution;
using Chain.Node;
using Chain.Node.Host;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Chain.Cli.Commands;

/// <summary>`chain start`: runs the validator of a node home until SIGINT/SIGTERM, then shuts down cleanly.</summary>
internal static class StartCommand
{
    public static Command Create()
    {
        // Test-only fault injection for the multi-process fault tests; hidden from help.
        var tamper = new Option<bool>("--fault-tamper-inference") { Description = "TEST ONLY: propose blocks with tampered inference outputs", Hidden = true };
        var clockOffset = new Option<long>("--clock-offset-ms") { Description = "TEST ONLY: run this node's wall clock this many ms ahead (negative: behind)", Hidden = true };
        var command = new Command("start", "Run this home's node: P2P, consensus, execution, block sync, RPC and metrics (stop with Ctrl-C or SIGTERM)")
        {
            tamper, clockOffset,
        };
        command.SetAction(result => CliApp.Run(result, _ =>
        {
            long offsetMs = result.GetValue(clockOffset);
            if (offsetMs is < -86_400_000 or > 86_400_000) throw new CliException("--clock-offset-ms must be within one day (±86400000)");
            var home = new NodeHome(result.GetValue(CliApp.Home)!);
            NodeConfig config;
            try
            {
                config = home.Exists ? home.LoadConfig() : throw new CliException($"{home.Root} has no config.toml: run `chain init --home {home.Root}` first");
            }
            catch (NodeConfigException e)
            {
                throw new CliException(e.Message);
            }
            using var logs = CreateLogging(config);
            using var stop = new CancellationTokenSource();
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            NodeService service;
            try
            {
                service = NodeService.StartAsync(home, logs, new NodeServiceOptions
                    {
                        TamperInferenceOutputs = result.GetValue(tamper),
                        ClockOffset = TimeSpan.FromMilliseconds(offsetMs),
                    }, stop.Token)
                    .GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A refused start is one line on stderr and exit 1, whatever refused it (CliApp.Run prints it).
                throw new CliException($"cannot start: {RefusalText(e)}");
            }
            // From here on an exception escaping any thread is a crash: its cause goes to the log, flushed, before the exit.
            UnhandledExceptionEventHandler crash = (_, args) =>
            {
                var e = args.ExceptionObject as Exception ?? new InvalidOperationException($"{args.ExceptionObject}");
                logs.CreateLogger("chain.node").LogCritical(e, "fatal: unhandled exception outside the node's loop: {Cause}; exiting with code {ExitCode}",
                    NodeExitCodes.Describe(e), NodeExitCodes.Crashed);
                logs.Dispose(); // flushes the console logger's queue
                Environment.Exit(NodeExitCodes.Crashed);
            };
            AppDomain.CurrentDomain.UnhandledException += crash;
            try
            {
                // Runs until a signal (exit 0), or until the node fails (its cause is logged at once; exit 2 or 3).
                return service.RunAsync(stop.Token).GetAwaiter().GetResult();
            }
            finally
            {
                AppDomain.CurrentDomain.UnhandledException -= crash;
            }
        }));
        return command;
    }

    /// <summary>Why a start was refused, in one line: the message of a failure the operator can fix, the type as well otherwise.</summary>
    internal static string RefusalText(Exception e)
    {
        if (e is AggregateException { InnerExceptions.Count: 1 } aggregate) e = aggregate.InnerExceptions[0];
        bool known = e is NodeConfigException or GenesisException or System.Net.Sockets.SocketException or IOException
            or UnauthorizedAccessException or Storage.StorageException or Core.Crypto.KeyFileException or InvalidDataException;
        return known ? CliApp.OneLine(e.Message) : $"unexpected {e.GetType().Name}: {CliApp.OneLine(e.Message)}";
    }

    /// <summary>Structured logs on standard output: text lines, or one JSON object per line (log.format = "json").</summary>
    internal static ILoggerFactory CreateLogging(NodeConfig config)
    {
        var level = config.Log.Level switch { "debug" => LogLevel.Debug, "warn" => LogLevel.Warning, "error" => LogLevel.Error, _ => LogLevel.Information };
        return LoggerFactory.Create(builder =>
        {
            builder.SetMinimumLevel(level);
            builder.AddFilter("Microsoft", LogLevel.Warning);
            if (config.Log.Format == "json")
                builder.AddJsonConsole(o => { o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; o.UseUtcTimestamp = true; });
            else
                builder.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; o.UseUtcTimestamp = true; o.ColorBehavior = LoggerColorBehavior.Disabled; });
        });
    }
}
