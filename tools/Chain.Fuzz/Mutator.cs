namespace Chain.Fuzz;

/// <summary>
/// A small seeded byte mutator (bit flips, interesting values, inserted / deleted / duplicated ranges, splices between
/// corpus entries), for running targets without afl++: in the tests and `chain-fuzz smoke`. The same seed gives the
/// same inputs, so a finding is reproduced by its seed and iteration.
/// </summary>
public sealed class Mutator(int seed, int maxLength = 1 << 20)
{
    private static readonly byte[] Interesting = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xc0, 0xc1, 0xc2, 0xc3, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0x90, 0x9f, 0x92, 0x93, 0xc4, 0xc5, 0xc6];
    private readonly Random _random = new(seed);

    public byte[] Mutate(IReadOnlyList<byte[]> corpus)
    {
        var data = new List<byte>(corpus[_random.Next(corpus.Count)]);
        int rounds = 1 + _random.Next(4);
        for (int r = 0; r < rounds; r++)
        {
            switch (_random.Next(data.Count == 0 ? 1 : 7))
            {
                case 0: // insert interesting bytes
                    data.InsertRange(_random.Next(data.Count + 1), Enumerable.Range(0, 1 + _random.Next(8)).Select(_ => Interesting[_random.Next(Interesting.Length)]));
                    break;
                case 1: // flip a bit
                    { int i = _random.Next(data.Count); data[i] ^= (byte)(1 << _random.Next(8)); }
                    break;
                case 2: // set an interesting byte
                    data[_random.Next(data.Count)] = Interesting[_random.Next(Interesting.Length)];
                    break;
                case 3: // delete a range
                    { int i = _random.Next(data.Count); data.RemoveRange(i, Math.Min(data.Count - i, 1 + _random.Next(16))); }
                    break;
                case 4: // duplicate a range
                    {
                        int i = _random.Next(data.Count), n = Math.Min(data.Count - i, 1 + _random.Next(64));
                        data.InsertRange(_random.Next(data.Count + 1), data.GetRange(i, n));
                    }
                    break;
                case 5: // truncate
                    { int i = _random.Next(data.Count); data.RemoveRange(i, data.Count - i); }
                    break;
                default: // splice with another entry
                    {
                        var other = corpus[_random.Next(corpus.Count)];
                        if (other.Length == 0) break;
                        int from = _random.Next(other.Length);
                        int at = _random.Next(data.Count);
                        data.RemoveRange(at, data.Count - at);
                        data.AddRange(other.AsSpan(from).ToArray());
                    }
                    break;
            }
            if (data.Count > maxLength) data.RemoveRange(maxLength, data.Count - maxLength);
        }
        return data.ToArray();
    }
}
