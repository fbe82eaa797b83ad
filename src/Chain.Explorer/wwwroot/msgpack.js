// The canonical MessagePack subset of docs/protocol.md section 1, decoded strictly: unsigned integers, bin, str,
// arrays and nil only, each in its smallest header; fixed lengths where the layout names them; no trailing bytes.
// Refusing every non-smallest form is what the C# decoder's round-trip check guarantees, so the same bytes pass.
export class Reader {
  constructor(bytes, kind) { this.b = bytes; this.o = 0; this.kind = kind; }

  fail(what) { throw new Error(`${this.kind}: ${what} at byte ${this.o}`); }

  byte() { if (this.o >= this.b.length) this.fail("truncated"); return this.b[this.o++]; }

  take(n) {
    if (this.o + n > this.b.length) this.fail("truncated");
    const s = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return s;
  }

  be(n) { let v = 0n; for (const x of this.take(n)) v = (v << 8n) | BigInt(x); return v; }

  // A length or count: the header's value, refused unless the header is the smallest that holds it.
  sized(value, min) { if (value < min) this.fail("non-canonical (not the smallest header)"); return value; }

  uint() {
    const t = this.byte();
    if (t <= 0x7f) return BigInt(t);
    if (t === 0xcc) return this.sized(this.be(1), 0x80n);
    if (t === 0xcd) return this.sized(this.be(2), 0x100n);
    if (t === 0xce) return this.sized(this.be(4), 0x10000n);
    if (t === 0xcf) return this.sized(this.be(8), 0x100000000n);
    this.o--;
    return this.fail(`expected an unsigned integer, found 0x${t.toString(16)}`);
  }

  array(expected) {
    const t = this.byte();
    let n;
    if ((t & 0xf0) === 0x90) n = t & 0x0f;
    else if (t === 0xdc) n = Number(this.sized(this.be(2), 16n));
    else if (t === 0xdd) n = Number(this.sized(this.be(4), 0x10000n));
    else { this.o--; this.fail(`expected an array, found 0x${t.toString(16)}`); }
    if (expected !== undefined && n !== expected) this.fail(`wrong arity ${n}, expected ${expected}`);
    return n;
  }

  bin(expected) {
    const t = this.byte();
    let n;
    if (t === 0xc4) n = Number(this.be(1));
    else if (t === 0xc5) n = Number(this.sized(this.be(2), 0x100n));
    else if (t === 0xc6) n = Number(this.sized(this.be(4), 0x10000n));
    else { this.o--; this.fail(`expected bin, found 0x${t.toString(16)}`); }
    if (expected !== undefined && n !== expected) this.fail(`bin of ${n} bytes, expected ${expected}`);
    return this.take(n);
  }

  str() {
    const t = this.byte();
    let n;
    if ((t & 0xe0) === 0xa0) n = t & 0x1f;
    else if (t === 0xd9) n = Number(this.sized(this.be(1), 32n));
    else if (t === 0xda) n = Number(this.sized(this.be(2), 0x100n));
    else if (t === 0xdb) n = Number(this.sized(this.be(4), 0x10000n));
    else { this.o--; this.fail(`expected str, found 0x${t.toString(16)}`); }
    return new TextDecoder("utf-8", { fatal: true }).decode(this.take(n));
  }

  nil() { if (this.b[this.o] === 0xc0) { this.o++; return true; } return false; }

  end() { if (this.o !== this.b.length) this.fail("trailing bytes"); }
}

function uint(v) {
  if (v <= 0x7fn) return [Number(v)];
  const [tag, n] = v <= 0xffn ? [0xcc, 1] : v <= 0xffffn ? [0xcd, 2] : v <= 0xffffffffn ? [0xce, 4] : [0xcf, 8];
  const out = [tag];
  for (let i = n - 1; i >= 0; i--) out.push(Number((v >> BigInt(8 * i)) & 0xffn));
  return out;
}

const bin8 = bytes => [0xc4, bytes.length, ...bytes];

/** canonical(Vote) = [type, height, round, blockHash, timestampMs, validator] (docs/protocol.md, "Vote"). */
export function writeVote(type, height, round, blockHash, timestampMs, validator) {
  return Uint8Array.from([0x96, ...uint(type), ...uint(height), ...uint(round), ...bin8(blockHash), ...uint(timestampMs), ...bin8(validator)]);
}

/** canonical(Tensor) = [dtype, [dim, ...] (≤ 8), data: bin] (docs/inference-semantics.md, "Tensors"), smallest headers. */
export function writeTensor(dtype, dims, data) {
  if (dims.length > 8) throw new Error(`tensor: ${dims.length} dimensions, at most 8`);
  const n = data.length;
  const header = [0x93, ...uint(BigInt(dtype)), 0x90 | dims.length, ...dims.flatMap(d => uint(BigInt(d))),
    ...(n <= 0xff ? [0xc4, n] : n <= 0xffff ? [0xc5, n >> 8, n & 0xff] : [0xc6, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])];
  const out = new Uint8Array(header.length + n);
  out.set(header);
  out.set(data, header.length);
  return out;
}
