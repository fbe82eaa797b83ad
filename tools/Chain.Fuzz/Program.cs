using Chain.Fuzz;
using SharpFuzz;

// chain-fuzz: fuzz targets for the decoders strangers reach. See README.md ("Fuzzing") and `make fuzz`.
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("""
        usage: chain-fuzz list
               chain-fuzz seeds TARGET DIR                         write TARGET's seed corpus to DIR
               chain-fuzz smoke TARGET [ITERATIONS] [SEED]         seeded in-process mutation run
               chain-fuzz afl TARGET                               run under afl-fuzz (SharpFuzz out-of-process mode)
               chain-fuzz run TARGET FILE                          run one input (reproduce a crash)
        """);
    return args.Length == 0 ? 2 : 0;
}
try
{
    switch (args[0])
    {
        case "list":
            foreach (var t in FuzzTargets.All) Console.WriteLine($"{t.Name,-12} {t.Description}");
            return 0;
        case "seeds" when args.Length == 3:
        {
            Directory.CreateDirectory(args[2]);
            var seeds = Seeds.For(FuzzTargets.Get(args[1]).Name);
            for (int i = 0; i < seeds.Count; i++) File.WriteAllBytes(Path.Combine(args[2], $"seed-{i}"), seeds[i]);
            Console.WriteLine($"{seeds.Count} seed(s) for {args[1]} in {args[2]}");
            return 0;
        }
        case "smoke" when args.Length is >= 2 and <= 4:
        {
            var target = FuzzTargets.Get(args[1]);
            int iterations = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10_000;
            int seed = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 1;
            var result = SmokeRun.Run(target, Seeds.For(target.Name), iterations, seed);
            Console.WriteLine($"{target.Name}: {result.Iterations} mutations of seed {seed} in {result.Elapsed.TotalSeconds:0.0} s " +
                $"({result.Iterations / Math.Max(result.Elapsed.TotalSeconds, 1e-9):0} execs/s), {result.Accepted} accepted, {result.Findings.Count} finding(s)");
            foreach (var (iteration, input, error) in result.Findings)
            {
                var file = $"finding-{target.Name}-seed{seed}-iter{iteration}.bin";
                File.WriteAllBytes(file, input);
                Console.WriteLine($"  iteration {iteration}: {error.GetType().Name}: {error.Message} (input saved to {file})");
            }
            return result.Findings.Count == 0 ? 0 : 1;
        }
        case "afl" when args.Length == 2:
        {
            var target = FuzzTargets.Get(args[1]);
            Fuzzer.OutOfProcess.Run(stream =>
            {
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                _ = target.Run(buffer.ToArray());
            });
            return 0;
        }
        case "run" when args.Length == 3:
            Console.WriteLine(FuzzTargets.Get(args[1]).Run(File.ReadAllBytes(args[2])) ? "accepted, no finding" : "refused, no finding");
            return 0;
        default:
            Console.Error.WriteLine($"chain-fuzz: bad arguments '{string.Join(' ', args)}' (see --help)");
            return 2;
    }
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"chain-fuzz: {e.Message}");
    return 2;
}
