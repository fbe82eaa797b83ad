using Chain.Inference;
using Chain.Inference.Admission;
using Chain.Inference.Runtime;

namespace Chain.Lab.Tests;

public class LabModelsTests
{
    [Fact]
    public void Adversarial_models_are_admitted_and_built_deterministically()
    {
        var first = LabModels.Adversarial();
        var second = LabModels.Adversarial();
        Assert.Equal(3, first.Count);
        for (int i = 0; i < first.Count; i++)
        {
            Assert.Equal(first[i].Bytes, second[i].Bytes);
            var report = ModelAdmission.Check(first[i].Bytes);
            Assert.True(report.Admitted, $"{first[i].Name}: {string.Join("; ", report.Reasons)}");
            Assert.True(report.TotalMacs > 0);
        }
    }

    [Fact]
    public void Big_accumulator_K_is_the_largest_admissible_and_not_a_multiple_of_4()
    {
        const long perMac = 255L * 64;
        Assert.True(perMac * LabModels.BigAccK <= int.MaxValue);
        Assert.True(perMac * (LabModels.BigAccK + 1) > int.MaxValue);
        Assert.NotEqual(0, LabModels.BigAccK % 4);
        Assert.True(LabModels.TiesK % 4 != 0 && LabModels.TiesK % 16 != 0 && LabModels.TiesK % 64 != 0);
    }

    [Fact]
    public void Big_accumulator_all_max_input_reaches_the_int32_edge()
    {
        using var canonical = CanonicalExecutor.Load(LabModels.GemmBigAccumulator().Bytes);
        var input = InputGenerator.Create(canonical.Inputs, InputPattern.AllMax, 0);
        var y = canonical.Run(input)[0].Value.Elements<int>().ToArray();
        Assert.Equal(-255L * 64 * LabModels.BigAccK, y[0]);
        Assert.Equal(255L * 63 * LabModels.BigAccK, y[1]);
        Assert.True(y[0] - (long)int.MinValue < 255 * 64, "column 0 should sit within one product of -2^31");
    }

    [Fact]
    public void Ties_model_rounds_half_to_even_as_computed_by_hand()
    {
        var model = LabModels.GemmTies();
        var parsed = Chain.Inference.Onnx.OnnxModel.Parse(model.Bytes);
        var w = parsed.Graph.FindInitializer("w")!.Value.Elements<sbyte>().ToArray();
        int n = w.Length / LabModels.TiesK;
        using var canonical = CanonicalExecutor.Load(model.Bytes);
        var ties = 0;
        foreach (var seed in new[] { 1, 2, 3 })
        {
            var input = InputGenerator.Create(canonical.Inputs, InputPattern.Random, seed);
            var a = input[0].Value.Elements<byte>().ToArray();
            var y = canonical.Run(input)[0].Value.Elements<byte>().ToArray();
            for (int j = 0; j < n; j++)
            {
                long acc = 0;
                for (int k = 0; k < LabModels.TiesK; k++) acc += (a[k] - 128) * w[k * n + j];
                if ((acc & 1) != 0) ties++;
                var expected = Math.Clamp(Math.Round(acc / 2.0, MidpointRounding.ToEven) + 128, 0, 255);
                Assert.Equal((byte)expected, y[j]);
            }
        }
        Assert.True(ties > 10, $"only {ties} accumulators were odd; the model should exercise ties");
    }

    [Fact]
    public void Float_contrast_model_is_refused_by_admission_but_runs_under_ort()
    {
        var model = LabModels.FloatMlp();
        Assert.True(model.IsFloat);
        var report = ModelAdmission.Check(model.Bytes);
        Assert.False(report.Admitted);
        Assert.Contains(report.Reasons, r => r.Code == "float");
        using var prepared = PreparedModel.Load(model);
        using var ort = new OrtExecutor(model.Bytes, new OrtSettings(OrtOptimization.Disabled, 1));
        var y = ort.Run(InputGenerator.Create(prepared.Inputs, InputPattern.Random, 5))[0].Value;
        Assert.Equal(TensorElementType.Float, y.ElementType);
        Assert.Equal([1, 10], y.Shape.ToArray());
    }

    [Fact]
    public void Genesis_models_are_found_upwards_and_missing_ones_are_named()
    {
        var root = Directory.CreateTempSubdirectory("chain-lab-genesis").FullName;
        try
        {
            var nested = Directory.CreateDirectory(Path.Combine(root, "a", "b")).FullName;
            var missing = Assert.Throws<FileNotFoundException>(() => LabModels.Genesis(nested));
            Assert.Contains(LabModels.GenesisMlp, missing.Message);

            Directory.CreateDirectory(Path.Combine(root, "genesis", "models"));
            File.WriteAllBytes(Path.Combine(root, LabModels.GenesisMlp), LabModels.GemmTies().Bytes);
            Assert.Contains(LabModels.GenesisCnn, Assert.Throws<FileNotFoundException>(() => LabModels.Genesis(nested)).Message);

            File.WriteAllBytes(Path.Combine(root, LabModels.GenesisCnn), LabModels.ConvOdd().Bytes);
            var found = LabModels.Genesis(nested);
            Assert.Equal(["genesis-mlp", "genesis-cnn"], found.Select(m => m.Name));
            Assert.Equal(LabModels.ConvOdd().Bytes, found[1].Bytes);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}

public class Int8PeakTests
{
    [Fact]
    public void Peak_names_the_instruction_and_measures_a_positive_rate()
    {
        var peak = Int8Peak.Measure(TimeSpan.FromMilliseconds(100));
        Assert.True(peak.Gops > 0.1, $"{peak.Gops} GOPS");
        var expected = System.Runtime.Intrinsics.X86.AvxVnni.IsSupported ? "AVX-VNNI"
            : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "AVX2" : "scalar";
        Assert.Contains(expected, peak.Instruction);
    }
}
