using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;
using Chain.Testing;
using Xunit.Abstractions;
using static Chain.Inference.Tests.Onnx.Models;
using T = Chain.Inference.TensorElementType;

namespace Chain.Inference.Tests.Runtime;

public class MemoryPlanTests(ITestOutputHelper output)
{
    private static string ModelsDir() => GenesisModels.Locate(AppContext.BaseDirectory) ?? throw new InvalidOperationException("genesis/models not found");

    private static OnnxModel BroadcastAdds(int adds, bool allOutputs) => HostileModels.BroadcastAdds(adds, allOutputs);

    [Fact]
    public void Thousands_of_live_32_MiB_intermediates_are_refused_with_code_memory()
    {
        var report = ModelAdmission.Check(BroadcastAdds(4000, allOutputs: true).ToBytes());
        Assert.False(report.Admitted);
        var reason = Assert.Single(report.Reasons);
        Assert.Equal("memory", reason.Code);
        Assert.Contains($"limit of {AdmissionLimits.MaxArenaBytes}", reason.Message);
    }

    [Fact]
    public void A_chain_of_broadcast_adds_reuses_two_buffers_and_pays_for_every_element()
    {
        var report = ModelAdmission.Check(BroadcastAdds(4000, allOutputs: false).ToBytes());
        Assert.True(report.Admitted, string.Join("; ", report.Reasons));
        const long big = 2048L * 2048 * 8;
        // Inputs (16 KiB), t, and two 32 MiB buffers alternating: never 4000 of them.
        Assert.InRange(report.PeakMemoryBytes, 2 * big, 2 * big + (1 << 20));
        // Each Add reads 4M + 2048 + 2048 elements and writes 4M: the gas says so (it is far above a block's limit).
        Assert.True(report.Gas > 4000L * 8_000_000 * GasSchedule.Weight(GasKind.ElementwiseBroadcast) / GasSchedule.WorkPerGas, report.Gas.ToString());
    }

    [Fact]
    public void The_most_buffers_a_model_can_have_all_live_at_once_are_planned_side_by_side()
    {
        // The placement's worst case: the node limit's worth of outputs, every one a graph output (live to the end).
        var nodes = Enumerable.Range(0, AdmissionLimits.MaxNodes).Select(i => Node("Identity", ["x"], [$"y{i}"])).ToArray();
        var model = Model(nodes, [Value("x", T.UInt8, 1, 100)], nodes.Select(n => Value(n.Outputs[0], T.UInt8, 1, 100)));
        var bytes = model.ToBytes();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var report = ModelAdmission.Check(bytes);
        output.WriteLine($"{AdmissionLimits.MaxNodes} live outputs: admission {clock.ElapsedMilliseconds} ms, arena {report.PeakMemoryBytes} bytes");
        Assert.True(report.Admitted, string.Join("; ", report.Reasons));
        Assert.Equal((AdmissionLimits.MaxNodes + 1) * MemoryPlan.Align(100), report.PeakMemoryBytes);
        Assert.Equal(report.MemoryPlan.LiveBytesPeak, report.PeakMemoryBytes);
    }

    [Fact]
    public void Plan_places_overlapping_lifetimes_apart_and_reuses_dead_buffers()
    {
        var plan = MemoryPlan.Build([
            new("a", 0, 1000, 0, 1),
            new("b", 1, 1000, 1, 2),
            new("c", 2, 1000, 2, 3),
            new(null, 2, 100, 2, 2),
        ]);
        var a = plan.ForValue("a")!;
        var b = plan.ForValue("b")!;
        var c = plan.ForValue("c")!;
        Assert.NotEqual(a.Offset, b.Offset);
        Assert.NotEqual(b.Offset, c.Offset);
        Assert.Equal(a.Offset, c.Offset); // a is dead when c is born
        Assert.Equal(2 * MemoryPlan.Align(1000) + MemoryPlan.Align(100), plan.ArenaBytes);
        Assert.Equal(plan.ArenaBytes, plan.LiveBytesPeak);
        Assert.NotNull(plan.Workspace(2));
    }

    [Fact]
    public void Random_plans_never_overlap_live_buffers_and_are_deterministic()
    {
        for (var seed = 0; seed < 200; seed++)
        {
            var random = new Random(seed);
            var requests = Enumerable.Range(0, random.Next(1, 60)).Select(i =>
            {
                var first = random.Next(0, 40);
                return new MemoryPlan.Request($"v{i}", i, random.Next(0, 5000), first, first + random.Next(0, 10));
            }).ToArray();
            var plan = MemoryPlan.Build(requests);
            var again = MemoryPlan.Build(requests);
            Assert.Equal(plan.Buffers, again.Buffers);
            Assert.True(plan.ArenaBytes >= plan.LiveBytesPeak, $"seed {seed}");
            foreach (var p in plan.Buffers)
            {
                Assert.Equal(0, p.Offset % MemoryPlan.Alignment);
                Assert.True(p.Offset + p.Bytes <= plan.ArenaBytes, $"seed {seed}: {p} outside the arena");
                foreach (var q in plan.Buffers)
                {
                    if (ReferenceEquals(p, q) || !p.Overlaps(q) || p.Bytes == 0 || q.Bytes == 0) continue;
                    Assert.True(p.Offset + p.Bytes <= q.Offset || q.Offset + q.Bytes <= p.Offset, $"seed {seed}: {p} and {q} share bytes while both live");
                }
            }
        }
    }

    [Fact]
    public void Genesis_models_run_within_their_proven_memory_with_the_same_bytes_as_an_unplanned_run()
    {
        var dir = ModelsDir();
        var digits = GenesisModels.LoadTestDigits(dir);
        foreach (var model in GenesisModels.Load(dir))
        {
            var planned = CanonicalExecutor.Load(model.Bytes);
            var unplanned = CanonicalExecutor.LoadUnchecked(model.Bytes);
            var plan = planned.MemoryPlan!;
            Assert.True(plan.ArenaBytes > 0);
            Assert.Null(unplanned.MemoryPlan);
            foreach (var digit in digits.Take(20))
            {
                var inputs = new[] { new NamedTensor(planned.Inputs[0].Name, GenesisModels.ImageTensor(digit.Pixels)) };
                var (outputs, memory) = planned.RunMeasured(inputs);
                Assert.Equal(unplanned.Run(inputs)[0].Value.Data.ToArray(), outputs[0].Value.Data.ToArray());
                Assert.InRange(memory.HighestByte, 1, plan.ArenaBytes);
                Assert.InRange(memory.PeakLiveBytes, 1, plan.ArenaBytes);
            }
        }
    }

    [Fact]
    public void A_warm_run_allocates_nothing_of_data_size()
    {
        var dir = ModelsDir();
        var digit = GenesisModels.LoadTestDigits(dir)[0];
        foreach (var model in GenesisModels.Load(dir))
        {
            var executor = CanonicalExecutor.Load(model.Bytes);
            var inputs = new[] { new NamedTensor(executor.Inputs[0].Name, GenesisModels.ImageTensor(digit.Pixels)) };
            executor.Run(inputs); // warms the arena pool and the packed-weight cache
            executor.Run(inputs);
            var before = GC.GetAllocatedBytesForCurrentThread();
            executor.Run(inputs);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            output.WriteLine($"{model.Name}: warm run allocated {allocated} bytes; proven peak {executor.MemoryPlan!.ArenaBytes}");
            // Bookkeeping only (attribute arrays, per-channel parameters, the output copy): far below the
            // arena, which a cold run would allocate.
            Assert.True(allocated < executor.MemoryPlan!.ArenaBytes / 4 && allocated < 64 * 1024,
                $"{model.Name}: a warm run allocated {allocated} bytes (arena {executor.MemoryPlan.ArenaBytes})");
        }
    }

    [Fact]
    public void Warm_arenas_kept_across_models_stay_under_the_cap()
    {
        // 12 models whose chained Adds need a 64 MiB arena each: run once, every one would keep its arena warm
        // (768 MiB) without the process-wide cap.
        var executors = Enumerable.Range(0, 12)
            .Select(i => CanonicalExecutor.Load(HostileModels.BroadcastAdds(2 + i % 2, allOutputs: false).ToBytes()))
            .ToArray();
        try
        {
            foreach (var e in executors)
            {
                e.Run(InputGenerator.Create(e.Inputs, InputPattern.Random, 1));
                Assert.InRange(CanonicalExecutor.RetainedArenaBytes, 0, CanonicalExecutor.MaxRetainedArenaBytes);
            }
        }
        finally
        {
            foreach (var e in executors) e.Dispose();
        }
    }

    [Fact]
    public void Auto_pad_same_runs_and_matches_explicit_pads()
    {
        foreach (var (mode, begin, end) in new[] { ("SAME_UPPER", 0, 1), ("SAME_LOWER", 1, 0) })
        {
            // 4×4 input, 2×2 kernel, stride 1: out 4×4, total pad 1 per axis.
            OnnxModel Conv(params OnnxAttribute[] attributes) => Model(
                [Node("ConvInteger", ["x", "w"], ["y"], attributes), Node("MaxPool", ["p"], ["z"], [OnnxAttribute.Of("kernel_shape", new long[] { 2, 2 }), .. attributes])],
                [Value("x", T.UInt8, 1, 1, 4, 4), Value("p", T.Int8, 1, 1, 4, 4)],
                [Value("y", T.Int32, 1, 1, 4, 4), Value("z", T.Int8, 1, 1, 4, 4)],
                [UInt8("w", [1, 1, 2, 2], 1, 2, 3, 4)]);
            var auto = CanonicalExecutor.Load(Conv(OnnxAttribute.Of("auto_pad", mode)).ToBytes());
            var explicitPads = CanonicalExecutor.Load(Conv(OnnxAttribute.Of("pads", new long[] { begin, begin, end, end })).ToBytes());
            var inputs = InputGenerator.Create(auto.Inputs, InputPattern.Random, 7);
            var a = auto.Run(inputs);
            var e = explicitPads.Run(inputs);
            Assert.Null(FastPathCheck.FirstDifference(e, a));
        }
    }
}
