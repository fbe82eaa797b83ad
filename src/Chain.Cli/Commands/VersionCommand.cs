using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using Chain.Core.Protocol;

namespace Chain.Cli.Commands;

internal static class VersionCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print as JSON" };
        var command = new Command("version", "Print the software and protocol versions") { json };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var info = new
            {
                version = typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown",
                block_version = BlockHeader.CurrentVersion,
                runtime = RuntimeInformation.FrameworkDescription,
                os = RuntimeInformation.RuntimeIdentifier,
            };
            if (result.GetValue(json))
                output.WriteLine(JsonSerializer.Serialize(info));
            else
                output.WriteLine($"chain {info.version} (block format v{info.block_version}, {info.runtime}, {info.os})");
            return 0;
        }));
        return command;
    }
}
