// Re-execution in the browser: a second implementation of docs/inference-semantics.md (semantics version 1), written
// from that text for the operators the genesis models use (QLinearConv, MaxPool, Reshape, ArgMax). Integers are exact
// (int32 accumulators wrap with `| 0` and Math.imul; int64 is BigInt); every float step is one binary32 operation via
// Math.fround. A model with any other operator, attribute or layout is refused as Unsupported, never guessed at.
import { readModel, Unsupported, DTYPES, dtypeName, elementsOf, bytesOf } from "./onnx.js";
import { Reader, writeTensor } from "./msgpack.js";

export { Unsupported };
export const SEMANTICS_VERSION = 1n;
export const OPS = ["QLinearConv", "MaxPool", "Reshape", "ArgMax"];

const f32 = Math.fround;
const UINT8 = 2, INT8 = 3, INT32 = 6, INT64 = 7, FLOAT = 1;
const RANGE = { [UINT8]: [0, 255], [INT8]: [-128, 127] };

const fail = (node, message) => { throw new Error(`${node.op} '${node.name}': ${message}`); };
const count = shape => shape.reduce((a, b) => a * b, 1);
const tensor = (dtype, shape, data) => ({ dtype, shape, data });

// ---- canonical tensors (docs/inference-semantics.md, "Tensors") ----

/** Decodes a canonical tensor [dtype, [dim, ...], data] strictly. */
export function decodeTensor(bytes, what = "tensor") {
  const r = new Reader(bytes, what);
  r.array(3);
  const dtype = r.uint();
  if (dtype > 255n) r.fail(`dtype ${dtype} is above 255`);
  const rank = r.array();
  if (rank > 8) r.fail(`${rank} dimensions, at most 8`);
  const shape = [];
  for (let i = 0; i < rank; i++) {
    const d = r.uint();
    if (d >= 0x100000000n) r.fail(`dimension ${d} is not below 2^32`);
    shape.push(Number(d));
  }
  const data = r.bin();
  r.end();
  return tensor(Number(dtype), shape, elementsOf(Number(dtype), data, count(shape), what));
}

export const encodeTensor = t => writeTensor(t.dtype, t.shape, bytesOf(t.data));

// ---- numeric rules (docs/inference-semantics.md, "General rules") ----

/** Round half to even of a float (an integer-valued result). */
export function roundHalfEven(v) {
  const r = Math.round(v); // ties toward +∞
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// Each product or quotient of two binary32 values is computed in binary64 and rounded once by Math.fround: the product
// is exact in binary64, and for the quotient binary64's 53 bits are more than 2·24 + 2, so rounding twice equals
// rounding the exact quotient once (the double rounding is innocuous).
function multiplier(node, aScale, bScale, yScale) {
  for (const s of [aScale, bScale, yScale]) if (!(s > 0 && Number.isFinite(s))) fail(node, `scale ${s} is not finite and > 0`);
  const m = f32(f32(aScale * bScale) / yScale);
  if (!Number.isFinite(m)) fail(node, "requantization multiplier is not finite");
  return m;
}

function requantize(acc, m, zp, [qmin, qmax]) {
  let v = f32(f32(acc) * m);
  if (v < qmin - zp) v = qmin - zp; else if (v > qmax - zp) v = qmax - zp; // clamp in float: the bounds are integers
  return roundHalfEven(v) + zp;
}

/** One accumulator through QLinearMatMul/QLinearConv's requantization into uint8 (2) or int8 (3); for the cross-check tests. */
export const requantizeOne = (acc, aScale, bScale, yScale, yZp, dtype) =>
  requantize(acc | 0, multiplier({ op: "Requantize", name: "" }, f32(aScale), f32(bScale), f32(yScale)), yZp, RANGE[dtype]);

// ---- attributes and inputs ----

function attrs(node, allowed) {
  for (const name of node.attributes.keys())
    if (!allowed.includes(name)) throw new Unsupported(`${node.op} '${node.name}': attribute '${name}' is not implemented here`);
  const ints = (name, fallback) => {
    const a = node.attributes.get(name);
    if (!a) return fallback;
    if (a.type !== 7) fail(node, `attribute '${name}' must be INTS`);
    return a.ints.map(Number);
  };
  const int = (name, fallback) => {
    const a = node.attributes.get(name);
    if (!a) return fallback;
    if (a.type !== 2) fail(node, `attribute '${name}' must be INT`);
    return Number(a.i);
  };
  const str = (name, fallback) => {
    const a = node.attributes.get(name);
    if (!a) return fallback;
    if (a.type !== 3) fail(node, `attribute '${name}' must be STRING`);
    return a.s;
  };
  return { ints, int, str };
}

function scalar(node, t, what, dtype) {
  if (!t) fail(node, `${what} is required`);
  if (t.dtype !== dtype) fail(node, `${what} must be ${dtypeName(dtype)}, not ${dtypeName(t.dtype)}`);
  if (t.data.length !== 1) fail(node, `${what} must be a scalar (one element), has ${t.data.length}`);
  return Number(t.data[0]);
}

// Per-channel parameters: one value, or a 1-D tensor of `n`.
function perChannel(node, t, what, dtype, n) {
  if (!t) fail(node, `${what} is required`);
  if (t.dtype !== dtype) fail(node, `${what} must be ${dtypeName(dtype)}, not ${dtypeName(t.dtype)}`);
  if (t.data.length === 1) return Array(n).fill(Number(t.data[0]));
  if (t.shape.length !== 1 || t.data.length !== n) fail(node, `${what} must be a scalar or 1-D of ${n}`);
  return Array.from(t.data, Number);
}

// Pads from auto_pad ("Padding modes"): NOTSET uses `pads`, VALID zeros, SAME_* split ceil(in/s)'s total pad.
function resolvePads(node, autoPad, pads, spatial, kernel, strides, dilations) {
  const r = spatial.length;
  if (autoPad === "NOTSET") {
    if (pads.length === 0) return Array(2 * r).fill(0);
    if (pads.length !== 2 * r || pads.some(p => p < 0)) fail(node, `pads must be ${2 * r} non-negative values`);
    return pads;
  }
  if (autoPad === "VALID") return Array(2 * r).fill(0);
  if (autoPad !== "SAME_UPPER" && autoPad !== "SAME_LOWER") fail(node, `auto_pad '${autoPad}' is not NOTSET, VALID, SAME_UPPER or SAME_LOWER`);
  const begin = [], end = [];
  for (let i = 0; i < r; i++) {
    const e = (kernel[i] - 1) * dilations[i] + 1, out = Math.ceil(spatial[i] / strides[i]);
    const total = Math.max(0, (out - 1) * strides[i] + e - spatial[i]), half = Math.floor(total / 2);
    begin.push(autoPad === "SAME_UPPER" ? half : total - half);
    end.push(autoPad === "SAME_UPPER" ? total - half : half);
  }
  return [...begin, ...end];
}

function windowAttributes(node, a, spatial, kernel) {
  const r = spatial.length;
  const strides = a.ints("strides", []), dilations = a.ints("dilations", []);
  const s = strides.length ? strides : Array(r).fill(1), d = dilations.length ? dilations : Array(r).fill(1);
  if (s.length !== r || s.some(v => v < 1)) fail(node, `strides must be ${r} values ≥ 1`);
  if (d.length !== r || d.some(v => v < 1)) fail(node, `dilations must be ${r} values ≥ 1`);
  const pads = resolvePads(node, a.str("auto_pad", "NOTSET"), a.ints("pads", []), spatial, kernel, s, d);
  return { s, d, pads };
}

// ---- operators ----

// QLinearConv: int32 accumulator of (x − x_zp)(w − w_zp[oc]) over the window (padding contributes 0), plus B,
// requantized with m[oc] = fl(fl(x_scale · w_scale[oc]) / y_scale). Two spatial axes (what the genesis models use).
function qlinearConv(node, [x, xScale, xZp, w, wScale, wZp, yScale, yZp, bias]) {
  const a = attrs(node, ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"]);
  if (!x || !w) fail(node, "x and w are required");
  if (x.shape.length !== 4) throw new Unsupported(`QLinearConv '${node.name}' with ${x.shape.length - 2} spatial axes is not implemented here (only 2)`);
  if (!RANGE[x.dtype] || !RANGE[w.dtype]) fail(node, "x and w must be uint8 or int8");
  if (w.shape.length !== 4) fail(node, `w must be 4-D like x, is ${w.shape.length}-D`);
  const [N, C, H, W] = x.shape, [M, Cg, kH, kW] = w.shape;
  const group = a.int("group", 1);
  if (group < 1 || C % group !== 0 || M % group !== 0 || Cg !== C / group) fail(node, `group ${group} does not fit ${C} input and ${M} output channels with w ${w.shape}`);
  const kernel = a.ints("kernel_shape", [kH, kW]);
  if (kernel.length !== 2 || kernel[0] !== kH || kernel[1] !== kW) fail(node, `kernel_shape ${kernel} is not w's ${kH},${kW}`);
  const { s, d, pads } = windowAttributes(node, a, [H, W], [kH, kW]);
  const xs = scalar(node, xScale, "x_scale", FLOAT), xz = scalar(node, xZp, "x_zero_point", x.dtype);
  const ys = scalar(node, yScale, "y_scale", FLOAT);
  if (!yZp || !RANGE[yZp.dtype]) fail(node, "y_zero_point (uint8 or int8) is required");
  const yz = scalar(node, yZp, "y_zero_point", yZp.dtype);
  const ws = perChannel(node, wScale, "w_scale", FLOAT, M), wz = perChannel(node, wZp, "w_zero_point", w.dtype, M);
  const b = bias ? perChannel(node, bias, "B", INT32, M) : null;
  if (bias && (bias.shape.length !== 1 || bias.data.length !== M)) fail(node, `B must be 1-D of ${M}`);
  const m = ws.map(scale => multiplier(node, xs, scale, ys));
  const oH = Math.floor((H + pads[0] + pads[2] - ((kH - 1) * d[0] + 1)) / s[0]) + 1;
  const oW = Math.floor((W + pads[1] + pads[3] - ((kW - 1) * d[1] + 1)) / s[1]) + 1;
  if (oH < 1 || oW < 1) fail(node, `output spatial size ${oH}×${oW} is below 1`);
  const Y = new DTYPES[yZp.dtype][2](N * M * oH * oW), per = M / group, range = RANGE[yZp.dtype];
  let at = 0;
  for (let n = 0; n < N; n++)
    for (let oc = 0; oc < M; oc++) {
      const c0 = Math.floor(oc / per) * Cg;
      for (let oh = 0; oh < oH; oh++)
        for (let ow = 0; ow < oW; ow++) {
          let acc = 0;
          for (let c = 0; c < Cg; c++)
            for (let i = 0; i < kH; i++) {
              const ih = oh * s[0] - pads[0] + i * d[0];
              if (ih < 0 || ih >= H) continue;
              for (let j = 0; j < kW; j++) {
                const iw = ow * s[1] - pads[1] + j * d[1];
                if (iw < 0 || iw >= W) continue;
                const xv = x.data[((n * C + c0 + c) * H + ih) * W + iw], wv = w.data[((oc * Cg + c) * kH + i) * kW + j];
                acc = (acc + Math.imul(xv - xz, wv - wz[oc])) | 0;
              }
            }
          if (b) acc = (acc + b[oc]) | 0;
          Y[at++] = requantize(acc, m[oc], yz, range);
        }
    }
  return tensor(yZp.dtype, [N, M, oH, oW], Y);
}

// MaxPool on uint8/int8, two spatial axes: the maximum over in-bounds positions of each window.
function maxPool(node, [x]) {
  const a = attrs(node, ["auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"]);
  if (node.outputs.length > 1 && node.outputs[1] !== "") fail(node, "the Indices output is not supported");
  if (!x || !RANGE[x.dtype]) fail(node, "X must be uint8 or int8");
  if (x.shape.length !== 4) throw new Unsupported(`MaxPool '${node.name}' with ${x.shape.length - 2} spatial axes is not implemented here (only 2)`);
  if (a.int("storage_order", 0) !== 0) throw new Unsupported(`MaxPool '${node.name}': storage_order 1 is not implemented here`);
  const [N, C, H, W] = x.shape, kernel = a.ints("kernel_shape", null);
  if (!kernel || kernel.length !== 2 || kernel.some(k => k < 1)) fail(node, "kernel_shape must be 2 values ≥ 1");
  const ceil = a.int("ceil_mode", 0) === 1, autoPad = a.str("auto_pad", "NOTSET");
  const { s, d, pads } = windowAttributes(node, a, [H, W], kernel);
  const size = (axis, input) => {
    const e = (kernel[axis] - 1) * d[axis] + 1;
    if (pads[axis] >= e || pads[axis + 2] >= e) fail(node, "pads must be smaller than the dilated kernel");
    if (autoPad.startsWith("SAME")) return Math.ceil(input / s[axis]);
    const span = input + pads[axis] + pads[axis + 2] - e;
    let out = (ceil ? Math.ceil(span / s[axis]) : Math.floor(span / s[axis])) + 1;
    if (ceil && (out - 1) * s[axis] >= input + pads[axis]) out--; // a last window wholly in the end padding is dropped
    return out;
  };
  const oH = size(0, H), oW = size(1, W);
  if (oH < 1 || oW < 1) fail(node, `output spatial size ${oH}×${oW} is below 1`);
  const Y = new DTYPES[x.dtype][2](N * C * oH * oW);
  let at = 0;
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < oH; oh++)
      for (let ow = 0; ow < oW; ow++) {
        let best = null;
        for (let i = 0; i < kernel[0]; i++) {
          const ih = oh * s[0] - pads[0] + i * d[0];
          if (ih < 0 || ih >= H) continue;
          for (let j = 0; j < kernel[1]; j++) {
            const iw = ow * s[1] - pads[1] + j * d[1];
            if (iw < 0 || iw >= W) continue;
            const v = x.data[(p * H + ih) * W + iw];
            if (best === null || v > best) best = v;
          }
        }
        if (best === null) fail(node, "a window has no in-bounds position");
        Y[at++] = best;
      }
  return tensor(x.dtype, [N, C, oH, oW], Y);
}

// Reshape: −1 (at most one) inferred, 0 copies the input dimension unless allowzero; the data is unchanged.
function reshape(node, [data, shape]) {
  const a = attrs(node, ["allowzero"]);
  if (!data || !shape || shape.dtype !== INT64 || shape.shape.length !== 1) fail(node, "needs data and a 1-D int64 shape");
  const allowZero = a.int("allowzero", 0) === 1, wanted = Array.from(shape.data, Number);
  if (allowZero && wanted.includes(0) && wanted.includes(-1)) fail(node, "allowzero with both 0 and −1");
  if (wanted.filter(v => v === -1).length > 1) fail(node, "more than one −1");
  if (wanted.length > 8) fail(node, `rank ${wanted.length} is more than 8`);
  const dims = wanted.map((v, i) => {
    if (v === 0 && !allowZero) { if (i >= data.shape.length) fail(node, `0 at index ${i} has no input dimension to copy`); return data.shape[i]; }
    if (v < -1) fail(node, `dimension ${v}`);
    return v;
  });
  const known = dims.filter(v => v !== -1).reduce((p, v) => p * v, 1), total = data.data.length;
  if (dims.includes(-1)) {
    if (known === 0 || total % known !== 0) fail(node, `cannot infer −1: ${total} elements into ${dims}`);
    dims[dims.indexOf(-1)] = total / known;
  } else if (known !== total) fail(node, `${total} elements do not fit shape ${dims}`);
  return tensor(data.dtype, dims, data.data);
}

// ArgMax over an integer tensor: int64 indices, first maximal index unless select_last_index.
function argMax(node, [x]) {
  const a = attrs(node, ["axis", "keepdims", "select_last_index"]);
  if (!x || !DTYPES[x.dtype] || x.dtype === FLOAT || x.dtype === 11 || x.dtype === 9) fail(node, "input must be an integer tensor");
  const r = x.shape.length;
  let axis = a.int("axis", 0);
  if (axis < -r || axis >= r) fail(node, `axis ${axis} is outside rank ${r}`);
  if (axis < 0) axis += r;
  const keep = a.int("keepdims", 1) === 1, last = a.int("select_last_index", 0) === 1;
  const outer = count(x.shape.slice(0, axis)), len = x.shape[axis], inner = count(x.shape.slice(axis + 1));
  if (len === 0) fail(node, "the axis is empty");
  const Y = new BigInt64Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let best = 0;
      for (let k = 1; k < len; k++) {
        const v = x.data[(o * len + k) * inner + i], b = x.data[(o * len + best) * inner + i];
        if (v > b || (last && v === b)) best = k;
      }
      Y[o * inner + i] = BigInt(best);
    }
  const shape = keep ? x.shape.map((v, i) => (i === axis ? 1 : v)) : x.shape.filter((_, i) => i !== axis);
  return tensor(INT64, shape, Y);
}

const KERNELS = { QLinearConv: qlinearConv, MaxPool: maxPool, Reshape: reshape, ArgMax: argMax };

// ---- models ----

/** Reads model bytes and says which of its operators this implementation lacks (empty when it can run them all). */
export function loadModel(bytes) {
  const model = readModel(bytes);
  const missing = [...new Set(model.graph.nodes
    .filter(n => !((n.domain === "" || n.domain === "ai.onnx") && KERNELS[n.op]))
    .map(n => (n.domain ? `${n.domain}.${n.op}` : n.op)))];
  return { ...model, missing };
}

/** Runs a loaded model on one input tensor (the first graph input) and returns its first graph output. */
export function run(model, input) {
  if (model.missing.length > 0)
    throw new Unsupported(`this browser implements ${OPS.join(", ")}; the model also uses ${model.missing.join(", ")}`);
  const { graph } = model;
  if (graph.inputs.length !== 1) throw new Unsupported(`the model has ${graph.inputs.length} graph inputs; only one is supported here`);
  const spec = graph.inputs[0];
  if (input.dtype !== spec.dtype) throw new Error(`input: ${dtypeName(input.dtype)}, the model expects ${dtypeName(spec.dtype)}`);
  if (!spec.shape || spec.shape.length !== input.shape.length || spec.shape.some((v, i) => v === "symbolic" || Number(v) !== input.shape[i]))
    throw new Error(`input: shape [${input.shape}], the model expects [${spec.shape ?? "?"}]`);
  const values = new Map(graph.initializers);
  values.set(spec.name, input);
  for (const node of graph.nodes) {
    const out = KERNELS[node.op](node, node.inputs.map(name => (name === "" ? null : values.get(name))));
    values.set(node.outputs[0], out);
  }
  return values.get(graph.outputs[0].name);
}

/** The canonical output bytes of running `modelBytes` on the canonical tensor `inputBytes` (what a receipt records). */
export function reexecute(modelBytes, inputBytes) {
  return encodeTensor(run(loadModel(modelBytes), decodeTensor(inputBytes, "input tensor")));
}
