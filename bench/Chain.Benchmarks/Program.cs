using BenchmarkDotNet.Running;

namespace Chain.Benchmarks;

public static class Program
{
    // `make bench` passes --filter and --job; with no arguments BenchmarkSwitcher asks interactively.
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
