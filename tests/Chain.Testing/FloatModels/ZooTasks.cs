namespace Chain.Testing.FloatModels;

/// <summary>One synthetic example: the input (one sample, no batch dimension), a class label or -1, and a regression target or null.</summary>
internal readonly record struct ZooExample(float[] X, int Label, float[]? Target);

/// <summary>A synthetic task a zoo model is fitted to and evaluated on.</summary>
internal abstract class ZooTask
{
    public abstract ZooExample Sample(ZooRandom rng);

    public ZooExample[] Samples(int count, ZooRandom rng)
    {
        var a = new ZooExample[count];
        for (var i = 0; i < count; i++) a[i] = Sample(rng);
        return a;
    }

    /// <summary>Class-balanced samples (i % classes), for fitting a classifier head.</summary>
    public virtual ZooExample[] Balanced(int count, ZooRandom rng) => Samples(count, rng);
}

/// <summary>
/// "MNIST-like" classification: each class is a fixed smooth pattern (a few polynomial bumps per channel,
/// values in [0, 1]); an example is its class pattern, scaled, shifted by up to <see cref="_maxShift"/> pixels,
/// plus uniform noise, clamped to [0, 1]. Separable, but not trivially (shift and noise).
/// </summary>
internal sealed class TemplateTask : ZooTask
{
    private readonly int _classes, _c, _h, _w, _maxShift;
    private readonly float _noise;
    private readonly float[][] _templates;

    public TemplateTask(ulong seed, int classes, int c, int h, int w, int maxShift, float noise, int bumps = 3)
    {
        (_classes, _c, _h, _w, _maxShift, _noise) = (classes, c, h, w, maxShift, noise);
        var rng = new ZooRandom(seed);
        _templates = new float[classes][];
        for (var k = 0; k < classes; k++)
        {
            var t = new float[c * h * w];
            for (var ch = 0; ch < c; ch++)
            {
                for (var b = 0; b < bumps; b++)
                {
                    double cy = rng.Uniform(0.15f, 0.85f) * h, cx = rng.Uniform(0.15f, 0.85f) * w;
                    double ry = rng.Uniform(0.12f, 0.3f) * h, rx = rng.Uniform(0.12f, 0.3f) * w;
                    double amp = rng.Uniform(0.5f, 1.0f);
                    for (var y = 0; y < h; y++)
                        for (var x = 0; x < w; x++)
                        {
                            double dy = (y - cy) / ry, dx = (x - cx) / rx, d2 = dy * dy + dx * dx;
                            if (d2 < 1) t[(ch * h + y) * w + x] += (float)(amp * (1 - d2) * (1 - d2));
                        }
                }
            }
            for (var i = 0; i < t.Length; i++) t[i] = Math.Min(1f, t[i]);
            _templates[k] = t;
        }
    }

    public int Classes => _classes;

    public override ZooExample Sample(ZooRandom rng) => Make(rng.Next(_classes), rng);

    public override ZooExample[] Balanced(int count, ZooRandom rng)
    {
        var a = new ZooExample[count];
        for (var i = 0; i < count; i++) a[i] = Make(i % _classes, rng);
        return a;
    }

    private ZooExample Make(int label, ZooRandom rng)
    {
        var t = _templates[label];
        var scale = rng.Uniform(0.7f, 1.1f);
        int sy = _maxShift == 0 ? 0 : rng.Next(2 * _maxShift + 1) - _maxShift;
        int sx = _maxShift == 0 || _w <= 16 ? 0 : rng.Next(2 * _maxShift + 1) - _maxShift;
        var x = new float[t.Length];
        for (var ch = 0; ch < _c; ch++)
            for (var y = 0; y < _h; y++)
                for (var xx = 0; xx < _w; xx++)
                {
                    int ty = y - sy, tx = xx - sx;
                    var v = ty >= 0 && ty < _h && tx >= 0 && tx < _w ? t[(ch * _h + ty) * _w + tx] * scale : 0f;
                    v += rng.Uniform(-_noise, _noise);
                    x[(ch * _h + y) * _w + xx] = Math.Clamp(v, 0f, 1f);
                }
        return new ZooExample(x, label, null);
    }
}

/// <summary>
/// Box regression: a filled rectangle (a random colour in [0.5, 1] per channel) on a noisy background in
/// [0, 0.3]; the target is (cx, cy, w, h) as fractions of the image size.
/// </summary>
internal sealed class BoxTask(int c, int h, int w) : ZooTask
{
    public override ZooExample Sample(ZooRandom rng)
    {
        int bw = 6 + rng.Next(w / 2), bh = 6 + rng.Next(h / 2);
        int x0 = rng.Next(w - bw + 1), y0 = rng.Next(h - bh + 1);
        var x = new float[c * h * w];
        for (var ch = 0; ch < c; ch++)
        {
            var colour = rng.Uniform(0.5f, 1f);
            for (var y = 0; y < h; y++)
                for (var xx = 0; xx < w; xx++)
                {
                    var inside = y >= y0 && y < y0 + bh && xx >= x0 && xx < x0 + bw;
                    x[(ch * h + y) * w + xx] = inside ? colour : rng.Uniform(0f, 0.3f);
                }
        }
        float[] target = [(x0 + bw / 2f) / w, (y0 + bh / 2f) / h, (float)bw / w, (float)bh / h];
        return new ZooExample(x, -1, target);
    }
}
