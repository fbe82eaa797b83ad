namespace Chain.Cli.Tests.Processes;

/// <summary>
/// The multi-process tests run one at a time: each runs four `chain start` processes with real timeouts,
/// and two such networks on a 2-core machine would starve each other's consensus rounds.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessCollection
{
    public const string Name = "multi-process networks";
}
