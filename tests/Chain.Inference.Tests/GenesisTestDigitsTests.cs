using System.Security.Cryptography;
using Chain.Inference.Runtime;

namespace Chain.Inference.Tests;

public sealed class GenesisTestDigitsTests
{
    private static string ModelsDir() => GenesisModels.Locate(AppContext.BaseDirectory) ?? throw new InvalidOperationException("genesis/models not found");

    [Fact]
    public void The_shipped_test_digits_are_the_documented_file_and_the_genesis_models_classify_them()
    {
        var dir = ModelsDir();
        Assert.Equal("ba25c6d8295448df9260acba8f203aa9238848ec43cb6c80b17977fce4b96767",
            Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, GenesisModels.TestDigitsFile)))));
        var digits = GenesisModels.LoadTestDigits(dir);
        Assert.Equal(200, digits.Count);
        Assert.Equal(7, digits[0].Label); // MNIST test image 0 is a 7
        Assert.All(digits, d => Assert.Equal(784, d.Pixels.Length));

        // Both genesis models get nearly all of them right under the canonical executor (98 % on the full test set).
        foreach (var model in GenesisModels.Load(dir))
        {
            var executor = CanonicalExecutor.Load(model.Bytes);
            int correct = digits.Count(d =>
                GenesisModels.PredictedDigit(executor.Run([new NamedTensor(executor.Inputs[0].Name, GenesisModels.ImageTensor(d.Pixels))])[0].Value) == d.Label);
            Assert.True(correct >= 190, $"{model.Name}: {correct}/200");
        }
    }

    [Fact]
    public void A_truncated_or_mislabelled_digits_file_is_refused()
    {
        var dir = Directory.CreateTempSubdirectory("chain-digits-").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(dir, GenesisModels.TestDigitsFile), new byte[785 + 3]);
            Assert.Contains("whole number", Assert.Throws<InvalidDataException>(() => GenesisModels.LoadTestDigits(dir)).Message);
            var bad = new byte[785];
            bad[0] = 12;
            File.WriteAllBytes(Path.Combine(dir, GenesisModels.TestDigitsFile), bad);
            Assert.Contains("label 12", Assert.Throws<InvalidDataException>(() => GenesisModels.LoadTestDigits(dir)).Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
