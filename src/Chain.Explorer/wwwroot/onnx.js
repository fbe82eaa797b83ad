// A strict reader of the ONNX protobuf subset (docs/onnx-subset.md sections 1–3), written for the browser from the spec,
// and only as far as the operators infer.js implements need: tensors must use raw_data, attributes must be INT, INTS or
// STRING. A field the spec reads but this reader does not is refused as "not supported here" (Unsupported); a field the
// spec refuses, or a wire-format error, is refused as malformed (Error); a field the spec does not read is skipped.

export class Unsupported extends Error {}

const MAX_MODEL_BYTES = 4 * 1024 * 1024, MAX_DEPTH = 16, MAX_STRING = 4096;
const VARINT = 0, FIXED64 = 1, LEN = 2, FIXED32 = 5;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Element types as ONNX numbers them: [name, bytes per element, typed array]. */
export const DTYPES = {
  1: ["float32", 4, Float32Array], 2: ["uint8", 1, Uint8Array], 3: ["int8", 1, Int8Array], 4: ["uint16", 2, Uint16Array],
  5: ["int16", 2, Int16Array], 6: ["int32", 4, Int32Array], 7: ["int64", 8, BigInt64Array], 9: ["bool", 1, Uint8Array],
  11: ["float64", 8, Float64Array], 12: ["uint32", 4, Uint32Array], 13: ["uint64", 8, BigUint64Array],
};

export const dtypeName = t => DTYPES[t]?.[0] ?? `type ${t}`;

/** Little-endian element bytes as a typed array of the dtype (a copy). */
export function elementsOf(dtype, bytes, count, what) {
  const [, size, Kind] = DTYPES[dtype] ?? [];
  if (!Kind) throw new Unsupported(`${what}: element type ${dtype} is not supported here`);
  if (bytes.length !== count * size) throw new Error(`${what}: ${bytes.length} data bytes, expected ${count} × ${size}`);
  const out = new Kind(count), view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const get = { 1: "getUint8", 2: "getUint16", 4: "getUint32", 8: "getBigUint64" }[size];
  if (Kind === Float32Array) for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  else if (Kind === Float64Array) for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
  else for (let i = 0; i < count; i++) out[i] = view[get](size * i, true); // typed arrays wrap to their own signedness
  return out;
}

/** The element bytes of a typed array, little-endian. */
export function bytesOf(data) {
  const size = data.BYTES_PER_ELEMENT, out = new Uint8Array(data.length * size), view = new DataView(out.buffer);
  const set = { 1: "setUint8", 2: "setUint16", 4: "setUint32", 8: "setBigUint64" }[size];
  if (data instanceof Float32Array) data.forEach((v, i) => view.setFloat32(4 * i, v, true));
  else if (data instanceof Float64Array) data.forEach((v, i) => view.setFloat64(8 * i, v, true));
  else if (size === 8) data.forEach((v, i) => view.setBigUint64(8 * i, BigInt.asUintN(64, v), true));
  else { const mask = 2 ** (8 * size) - 1; data.forEach((v, i) => view[set](size * i, (v & mask) >>> 0, true)); }
  return out;
}

// One protobuf message: its fields in order, each { field, wire, value (BigInt, varints) or bytes (a view), at }.
// "at byte N" in messages is the absolute offset in the model file, as the C# reader reports it.
class Message {
  constructor(bytes, start, end, depth, what, base) {
    if (depth > MAX_DEPTH) throw new Error(`${what}: more than ${MAX_DEPTH} nested messages (at byte ${base + start})`);
    this.depth = depth; this.what = what; this.fields = [];
    let o = start;
    const varint = () => {
      let v = 0n;
      for (let i = 0; i < 10; i++) {
        if (o >= end) throw new Error(`${what}: truncated varint (at byte ${base + o})`);
        const x = bytes[o++];
        if (i === 9 && x > 1) throw new Error(`${what}: varint longer than 64 bits (at byte ${base + o - 1})`);
        v |= BigInt(x & 0x7f) << BigInt(7 * i);
        if (x < 0x80) return v;
      }
      throw new Error(`${what}: varint longer than 10 bytes (at byte ${base + o})`);
    };
    while (o < end) {
      const at = o, key = varint();
      if (key > 0xffffffffn) throw new Error(`${what}: key above 2^32 (at byte ${base + at})`);
      const field = Number(key >> 3n), wire = Number(key & 7n);
      if (field === 0) throw new Error(`${what}: field number 0 (at byte ${base + at})`);
      let value = null, sub = null;
      if (wire === VARINT) value = varint();
      else if (wire === FIXED64 || wire === FIXED32) {
        const n = wire === FIXED64 ? 8 : 4;
        if (o + n > end) throw new Error(`${what}: truncated fixed field ${field} (at byte ${base + o})`);
        sub = bytes.subarray(o, o + n); o += n;
      } else if (wire === LEN) {
        const n = varint();
        if (n > BigInt(end - o)) throw new Error(`${what}: field ${field}'s length ${n} runs past the end of its message (at byte ${base + o})`);
        sub = bytes.subarray(o, o + Number(n)); o += Number(n);
      } else throw new Error(`${what}: wire type ${wire} (groups and unknown types are refused) (at byte ${base + at})`);
      this.fields.push({ field, wire, value, bytes: sub, at: base + at, start: base + o - (sub ? sub.length : 0) });
    }
  }

  // Dispatches each field to read[field]; a field in refused is an error; any other is skipped (onnx-subset.md §2).
  each(read, refused = []) {
    for (const f of this.fields) {
      if (refused.includes(f.field)) throw new Error(`${this.what}: field ${f.field} is refused by the ONNX subset (at byte ${f.at})`);
      read[f.field]?.(f);
    }
  }

  child(f, what) {
    this.expect(f, LEN);
    return new Message(f.bytes, 0, f.bytes.length, this.depth + 1, what, f.start);
  }
  expect(f, wire) { if (f.wire !== wire) throw new Error(`${this.what}: field ${f.field} has wire type ${f.wire}, expected ${wire}`); }
  str(f) {
    this.expect(f, LEN);
    if (f.bytes.length > MAX_STRING) throw new Error(`${this.what}: string field ${f.field} is longer than ${MAX_STRING} bytes`);
    try { return utf8.decode(f.bytes); } catch { throw new Error(`${this.what}: string field ${f.field} is not valid UTF-8`); }
  }
  int(f) { this.expect(f, VARINT); return BigInt.asIntN(64, f.value); }
  // A repeated int64: packed (one LEN field) and unpacked (varints) are both accepted, and may be mixed.
  ints(f, into, max) {
    if (f.wire === VARINT) into.push(BigInt.asIntN(64, f.value));
    else {
      this.expect(f, LEN);
      const b = f.bytes;
      let o = 0;
      while (o < b.length) {
        let v = 0n;
        for (let i = 0; ; i++) {
          if (o >= b.length || i >= 10) throw new Error(`${this.what}: bad packed varint in field ${f.field}`);
          const x = b[o++];
          if (i === 9 && x > 1) throw new Error(`${this.what}: packed varint longer than 64 bits in field ${f.field}`);
          v |= BigInt(x & 0x7f) << BigInt(7 * i);
          if (x < 0x80) break;
        }
        into.push(BigInt.asIntN(64, v));
      }
    }
    if (into.length > max) throw new Error(`${this.what}: more than ${max} values in field ${f.field}`);
  }
}

function limit(list, max, what) { if (list.length > max) throw new Error(`${what}: more than ${max}`); }

function readTensor(m) {
  const t = { name: "", dims: [], dtype: 0, raw: null };
  m.each({
    1: f => m.ints(f, t.dims, 8),
    2: f => { t.dtype = Number(m.int(f)); },
    8: f => { t.name = m.str(f); },
    9: f => { m.expect(f, LEN); t.raw = f.bytes; },
    14: f => { if (m.int(f) !== 0n) throw new Error(`tensor: data_location ${f.value} (external data) is refused`); },
    ...Object.fromEntries([4, 5, 7, 10, 11].map(n => [n, () => {
      throw new Unsupported(`tensor '${t.name || "?"}' stores its values in field ${n}; this browser's reader only reads raw_data`);
    }])),
  }, [3, 6, 13]);
  if (t.dims.some(d => d < 0n)) throw new Error(`tensor '${t.name}': negative dimension`);
  const shape = t.dims.map(Number), count = shape.reduce((a, b) => a * b, 1);
  if (count > MAX_MODEL_BYTES) throw new Error(`tensor '${t.name}': ${count} elements is more than the model's size allows`);
  if (!DTYPES[t.dtype]) throw new Unsupported(`tensor '${t.name}': element type ${t.dtype} is not supported here`);
  const data = elementsOf(t.dtype, t.raw ?? new Uint8Array(0), count, `tensor '${t.name}'`);
  return { name: t.name, tensor: { dtype: t.dtype, shape, data } };
}

const ATTRIBUTE_TYPES = { 1: "FLOAT", 2: "INT", 3: "STRING", 4: "TENSOR", 6: "FLOATS", 7: "INTS" };

function readAttribute(m) {
  const a = { name: "", type: 0, i: null, ints: [], s: null, other: false };
  m.each({
    1: f => { a.name = m.str(f); }, 3: f => { a.i = m.int(f); }, 4: f => { a.s = m.str(f); },
    8: f => m.ints(f, a.ints, 65536), 20: f => { a.type = Number(m.int(f)); },
    2: f => { m.expect(f, FIXED32); a.other = true; }, 5: f => { m.child(f, "tensor"); a.other = true; }, 7: () => { a.other = true; },
  }, [6, 9, 10, 11, 14, 15, 21, 22, 23]);
  if (!ATTRIBUTE_TYPES[a.type]) throw new Error(`attribute '${a.name}': type ${a.type} is refused by the ONNX subset`);
  if (!["INT", "INTS", "STRING"].includes(ATTRIBUTE_TYPES[a.type]) || a.other)
    throw new Unsupported(`attribute '${a.name}' of type ${ATTRIBUTE_TYPES[a.type]} is not read by this browser's implementation`);
  return a;
}

function readNode(m, index) {
  const n = { index, inputs: [], outputs: [], name: "", op: "", domain: "", attributes: new Map() };
  m.each({
    1: f => n.inputs.push(m.str(f)), 2: f => n.outputs.push(m.str(f)), 3: f => { n.name = m.str(f); },
    4: f => { n.op = m.str(f); }, 7: f => { n.domain = m.str(f); },
    5: f => {
      const a = readAttribute(m.child(f, "attribute"));
      if (n.attributes.has(a.name)) throw new Error(`node '${n.name}': attribute '${a.name}' given twice`);
      n.attributes.set(a.name, a);
      limit([...n.attributes], 64, `node '${n.name}': attributes`);
    },
  });
  return n;
}

function readValueInfo(m) {
  const v = { name: "", dtype: 0, shape: null };
  m.each({
    1: f => { v.name = m.str(f); },
    2: f => {
      const type = m.child(f, "type");
      type.each({
        1: g => {
          const tt = type.child(g, "tensor type");
          tt.each({
            1: h => { v.dtype = Number(tt.int(h)); },
            2: h => {
              const shape = tt.child(h, "shape");
              v.shape = [];
              shape.each({
                1: d => {
                  const dim = shape.child(d, "dimension");
                  let value = null;
                  dim.each({ 1: e => { value = dim.int(e); }, 2: e => { dim.str(e); value = "symbolic"; } });
                  v.shape.push(value);
                  limit(v.shape, 8, `value '${v.name}': dimensions`);
                },
              });
            },
          });
        },
      }, [4, 5, 8, 9]);
    },
  });
  return v;
}

/** Reads model bytes into { opset, graph: { nodes (execution order), initializers, inputs, outputs } }. */
export function readModel(bytes) {
  if (bytes.length > MAX_MODEL_BYTES) throw new Error(`model: ${bytes.length} bytes is more than 4 MiB`);
  const model = new Message(bytes, 0, bytes.length, 0, "model", 0);
  let graph = null;
  const opsets = [], metadata = [];
  model.each({
    7: f => { graph = model.child(f, "graph"); },
    8: f => {
      const o = model.child(f, "opset import");
      const entry = { domain: "", version: 0n };
      o.each({ 1: g => { entry.domain = o.str(g); }, 2: g => { entry.version = o.int(g); } });
      opsets.push(entry);
      limit(opsets, 64, "model: opset imports");
    },
    1: f => model.int(f), 2: f => model.str(f), 3: f => model.str(f), // ir_version, producer: read for strictness only
    14: f => {
      const entry = model.child(f, "metadata entry");
      entry.each({ 1: g => entry.str(g), 2: g => entry.str(g) });
      metadata.push(entry);
      limit(metadata, 64, "model: metadata entries");
    },
  }, [20, 25]);
  if (!graph) throw new Error("model: no graph");
  const nodes = [], initializers = new Map(), inputs = [], outputs = [];
  graph.each({
    1: f => { nodes.push(readNode(graph.child(f, "node"), nodes.length)); limit(nodes, 4096, "graph: nodes"); },
    2: f => graph.str(f), // the graph's name: read for strictness only
    5: f => {
      const { name, tensor } = readTensor(graph.child(f, "initializer"));
      if (initializers.has(name)) throw new Error(`graph: initializer '${name}' defined twice`);
      initializers.set(name, tensor);
      limit([...initializers], 4096, "graph: initializers");
    },
    11: f => inputs.push(readValueInfo(graph.child(f, "input"))),
    12: f => outputs.push(readValueInfo(graph.child(f, "output"))),
    13: f => readValueInfo(graph.child(f, "value_info")), // read for strictness; shapes come from execution
  }, [15]);
  return { opsets, graph: { nodes: order(nodes, initializers, inputs, outputs), initializers, inputs, outputs } };
}

// docs/onnx-subset.md §3: names defined once; Kahn's algorithm taking the lowest file index among ready nodes.
function order(nodes, initializers, inputs, outputs) {
  const defined = new Set(initializers.keys());
  for (const i of inputs) {
    if (initializers.has(i.name)) throw new Error(`graph: input '${i.name}' is also an initializer`);
    if (defined.has(i.name)) throw new Error(`graph: '${i.name}' defined twice`);
    defined.add(i.name);
  }
  const produced = new Set();
  for (const n of nodes) for (const o of n.outputs) if (o !== "") {
    if (defined.has(o) || produced.has(o)) throw new Error(`graph: '${o}' defined twice (node '${n.name}')`);
    produced.add(o);
  }
  for (const n of nodes) for (const i of n.inputs)
    if (i !== "" && !defined.has(i) && !produced.has(i)) throw new Error(`graph: node '${n.name}' reads '${i}', which nothing defines`);
  for (const o of outputs) if (!defined.has(o.name) && !produced.has(o.name)) throw new Error(`graph: output '${o.name}' is not defined`);
  const ready = new Set(defined), done = [], pending = [...nodes];
  while (pending.length > 0) {
    const k = pending.findIndex(n => n.inputs.every(i => i === "" || ready.has(i)));
    if (k < 0) throw new Error(`graph: cycle through node '${pending[0].name}'`);
    const [n] = pending.splice(k, 1);
    n.outputs.forEach(o => ready.add(o));
    done.push(n);
  }
  return done;
}
