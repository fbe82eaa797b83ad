namespace Chain.ModelTool.Tests;

public class TrainingTests
{
    /// <summary>
    /// A synthetic 28×28 set: class c is a bright 4-pixel-wide vertical bar at column 2c+3 of random height
    /// plus sparse noise, all from a seeded generator. Learnable in a few epochs by both nets.
    /// </summary>
    internal static MnistSet Synthetic(int count, ulong seed, int classes = 10)
    {
        var rng = new Rng(seed);
        var images = new byte[count * 784];
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            var c = rng.NextInt(classes);
            labels[i] = (byte)c;
            var img = images.AsSpan(i * 784, 784);
            var top = rng.NextInt(8);
            var bottom = 20 + rng.NextInt(8);
            for (var y = top; y < bottom; y++)
            for (var x = 2 * c + 3; x < 2 * c + 7; x++)
                img[y * 28 + x] = (byte)(180 + rng.NextInt(76));
            for (var n = 0; n < 30; n++) img[rng.NextInt(784)] = (byte)rng.NextInt(256);
        }
        return new MnistSet(images, labels, count, 28, 28);
    }

    [Fact]
    public void Mlp_training_decreases_loss_quantizes_well_and_is_deterministic()
    {
        var train = Synthetic(600, 1);
        var test = Synthetic(200, 2);
        var o = new TrainingOptions(Epochs: 3, BatchSize: 32, LearningRate: 2e-3f, Seed: 11, CalibrationImages: 200);
        var a = GenesisModelRecipe.TrainMlp(train, test, o, hidden: 32);
        Assert.True(a.EpochLoss[^1] < a.EpochLoss[0] / 2, $"loss {string.Join(", ", a.EpochLoss)}");
        Assert.True(a.FloatAccuracy > 0.9, $"float accuracy {a.FloatAccuracy}");
        Assert.True(a.Int8Accuracy > 0.9, $"int8 accuracy {a.Int8Accuracy}");
        Assert.All(a.Model.Layers.OfType<QLinearConvLayer>().SelectMany(l => l.Weights), w => Assert.InRange(w, (sbyte)-64, (sbyte)63));

        var b = GenesisModelRecipe.TrainMlp(train, test, o, hidden: 32);
        Assert.Equal(QuantizedModelJson.Serialize(a.Model), QuantizedModelJson.Serialize(b.Model));
        Assert.Equal(a.EpochLoss, b.EpochLoss);

        var other = GenesisModelRecipe.TrainMlp(train, test, o with { Seed = 12 }, hidden: 32);
        Assert.NotEqual(QuantizedModelJson.Serialize(a.Model), QuantizedModelJson.Serialize(other.Model));
    }

    [Fact]
    public void Cnn_training_decreases_loss_and_is_deterministic()
    {
        var train = Synthetic(300, 3);
        var test = Synthetic(100, 4);
        var o = new TrainingOptions(Epochs: 3, BatchSize: 16, LearningRate: 3e-3f, Seed: 5, CalibrationImages: 100);
        var a = GenesisModelRecipe.TrainCnn(train, test, o, 2, 4);
        var b = GenesisModelRecipe.TrainCnn(train, test, o, 2, 4);
        Assert.True(a.EpochLoss[^1] < a.EpochLoss[0], $"loss {string.Join(", ", a.EpochLoss)}");
        Assert.True(a.Int8Accuracy > 0.8, $"int8 accuracy {a.Int8Accuracy}");
        Assert.Equal(QuantizedModelJson.Serialize(a.Model), QuantizedModelJson.Serialize(b.Model));
        Assert.Equal(2L * 28 * 28 * 9 + 4L * 14 * 14 * 2 * 9 + 10L * 4 * 49, a.Model.MacCount);
    }

    [Fact]
    public void Gradient_sum_does_not_depend_on_how_many_threads_run_it()
    {
        // The partition count, not the core count, fixes the summation order: one worker must give the same bits.
        var train = Synthetic(128, 9);
        var o = new TrainingOptions(Epochs: 1, BatchSize: 32, LearningRate: 1e-3f, Seed: 1);
        var parallel = new FloatMlp(16, new Rng(1));
        Trainer.Train(parallel, train, o, null);
        var serial = new FloatMlp(16, new Rng(1));
        Trainer.Train(serial, train, o, null, maxThreads: 1);
        Assert.Equal(parallel.W1, serial.W1);
        Assert.Equal(parallel.W2, serial.W2);
    }
}
