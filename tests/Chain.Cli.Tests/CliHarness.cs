using System.CommandLine;

namespace Chain.Cli.Tests;

/// <summary>Runs the real command tree in-process and captures what it prints.</summary>
internal static class CliHarness
{
    public sealed record Outcome(int ExitCode, string Output, string Error);

    public static Outcome Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Build().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return new Outcome(code, output.ToString(), error.ToString());
    }
}
