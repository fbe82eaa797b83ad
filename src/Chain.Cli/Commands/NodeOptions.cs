using System.CommandLine;
using Chain.Rpc;

namespace Chain.Cli.Commands;

/// <summary>The --node option shared by `chain tx` and `chain query`, and the one way they call the node.</summary>
internal static class NodeOptions
{
    public const string DefaultNode = "http://127.0.0.1:26657/";

    public static Option<string> Node() => new("--node") { Description = "Node RPC address", DefaultValueFactory = _ => DefaultNode };

    public static RpcClient Client(string node)
    {
        if (!Uri.TryCreate(node.EndsWith('/') ? node : node + "/", UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new CliException($"--node must be an http(s) URL, got '{node}'");
        return new RpcClient(uri, timeout: TimeSpan.FromSeconds(150));
    }

    /// <summary>Runs a node call; a refusal or an unreachable node becomes a one-line CLI error.</summary>
    public static T Call<T>(Func<Task<T>> call)
    {
        try
        {
            return call().GetAwaiter().GetResult();
        }
        catch (RpcClientException e)
        {
            var status = e.Status is { } s ? $" (HTTP {s}{(e.Code is null ? "" : ", " + e.Code)})" : "";
            throw new CliException($"{e.Message}{status}");
        }
    }
}
