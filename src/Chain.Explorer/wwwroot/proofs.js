// The checks behind "Verify in this browser" and "Re-execute in this browser": what the node served, re-checked with the
// browser's own WebCrypto (SHA-256, Ed25519) from the canonical bytes only (JSON fields other than raw bytes are never
// trusted). docs/explorer.md says what is checked and against which trust root; docs/protocol.md, docs/merkle.md define
// the encodings and hashes used here. Each check is shown as one line of a Checklist.
import { Reader, writeVote } from "./msgpack.js";

const enc = new TextEncoder();

// ---- hashing and signatures (docs/protocol.md, sections 2 and 3) ----

const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const sha256 = async bytes => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
const tag = name => { const t = enc.encode("chain/v1/" + name); return concat([t.length], t); };
export const domainHash = (name, data) => sha256(concat(tag(name), data));
const signBytes = (kind, chainId, payload) => {
  const c = enc.encode(chainId);
  return concat(tag("sign/" + kind), [c.length], c, payload);
};
export const hex = bytes => [...bytes].map(b => b.toString(16).padStart(2, "0")).join("");
export const b64 = text => Uint8Array.from(atob(text), c => c.charCodeAt(0));
export const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function ed25519Supported() {
  try {
    // RFC 8032 test 1's public key.
    const key = Uint8Array.from("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a".match(/../g), x => parseInt(x, 16));
    await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
    return true;
  } catch {
    return false;
  }
}

async function ed25519Verify(publicKey, signature, message) {
  const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

// ---- canonical objects (docs/protocol.md, section 4; docs/merkle.md) ----

function decodeHeader(bytes) {
  const r = new Reader(bytes, "header");
  r.array(13);
  const h = {
    version: r.uint(), chainId: r.str(), height: r.uint(), timeMs: r.uint(),
    lastBlockHash: r.bin(32), lastCommitHash: r.bin(32), transactionsRoot: r.bin(32), receiptsRoot: r.bin(32),
    stateRoot: r.bin(32), validatorsHash: r.bin(32), nextValidatorsHash: r.bin(32), evidenceRoot: r.bin(32), proposer: r.bin(20),
  };
  r.end();
  if (h.version !== 1n) throw new Error(`header: version ${h.version} is not 1`);
  return h;
}

function decodeCommit(bytes) {
  const r = new Reader(bytes, "commit");
  r.array(4);
  const c = { height: r.uint(), round: r.uint(), blockHash: r.bin(32), signatures: [] };
  const n = r.array();
  for (let i = 0; i < n; i++) {
    r.array(3);
    const s = { validator: r.bin(20), timestampMs: r.uint(), signature: r.bin(64) };
    const prev = c.signatures[i - 1];
    if (prev && hex(prev.validator) >= hex(s.validator)) throw new Error(`commit: signatures[${i}] is not in strictly ascending validator order`);
    c.signatures.push(s);
  }
  r.end();
  return c;
}

async function decodeValidatorSet(bytes) {
  const r = new Reader(bytes, "validator set");
  const n = r.array();
  if (n < 1 || n > 256) throw new Error(`validator set: ${n} entries is not 1..256`);
  const validators = [];
  let total = 0n;
  for (let i = 0; i < n; i++) {
    r.array(2);
    const publicKey = r.bin(32), power = r.uint();
    if (power < 1n) throw new Error(`validator set: entry ${i} has power 0`);
    const address = (await domainHash("address", publicKey)).subarray(0, 20);
    validators.push({ publicKey, power, address: hex(address) });
    total += power;
  }
  r.end();
  return { validators, total, hash: await domainHash("validators", bytes) };
}

function decodeProof(bytes) {
  const r = new Reader(bytes, "inclusion proof");
  r.array(3);
  const leafIndex = r.uint(), treeSize = r.uint(), n = r.array();
  if (n > 64) throw new Error("inclusion proof: more than 64 hashes");
  const path = [];
  for (let i = 0; i < n; i++) path.push(r.bin(32));
  r.end();
  if (leafIndex >= treeSize) throw new Error("inclusion proof: leafIndex ≥ treeSize");
  return { leafIndex, treeSize, path };
}

// RFC 9162 inclusion verification, exactly docs/merkle.md "Inclusion proof".
async function verifyInclusion(proof, leaf, root) {
  let fn = proof.leafIndex, sn = proof.treeSize - 1n;
  let r = await sha256(concat([0], leaf));
  for (const p of proof.path) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await sha256(concat([1], p, r));
      if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await sha256(concat([1], r, p));
    }
    fn >>= 1n; sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

// An Infer transaction, strictly: [[chainId, sender, nonce, fee, [3, modelId, input, maxGas]], signature].
export function decodeInferTransaction(bytes) {
  const r = new Reader(bytes, "transaction");
  r.array(2);
  r.array(5);
  const tx = { chainId: r.str(), sender: r.bin(32), nonce: r.uint(), fee: r.uint() };
  const n = r.array();
  const kind = r.uint();
  if (kind !== 3n) throw new Error(`transaction: body kind ${kind} is not an inference (3)`);
  if (n !== 4) r.fail(`wrong arity ${n}, expected 4`);
  tx.modelId = r.bin(32); tx.input = r.bin(); tx.maxGas = r.uint();
  r.bin(64);
  r.end();
  return tx;
}

function decodeReceipt(bytes) {
  const r = new Reader(bytes, "receipt");
  r.array(4);
  const receipt = { txHash: r.bin(32), status: r.uint(), gasUsed: r.uint(), inference: null };
  if (r.nil()) { /* no inference */ } else {
    r.array(5);
    receipt.inference = { modelId: r.bin(32), semanticsVersion: r.uint(), inputHash: r.bin(32), outputHash: r.bin(32), output: r.bin() };
  }
  r.end();
  return receipt;
}

// Sparse-Merkle state proofs, exactly docs/state.md section 4.
function decodeStateProof(bytes) {
  const r = new Reader(bytes, "state proof");
  r.array(2);
  const depth = r.array();
  if (depth > 64) throw new Error("state proof: more than 64 levels");
  const levels = [];
  for (let d = 0; d < depth; d++) {
    r.array(2);
    const bitmap = Number(r.uint());
    if (bitmap > 0xffff) throw new Error(`state proof: level ${d} bitmap is not a uint16`);
    const bits = [...Array(16).keys()].filter(j => bitmap & (1 << j)).length;
    if (bits === 16) throw new Error(`state proof: level ${d} has 16 siblings`);
    const n = r.array(bits);
    const siblings = [];
    for (let i = 0; i < n; i++) {
      const s = r.bin(32);
      if (s.every(x => x === 0)) throw new Error(`state proof: level ${d} carries the zero placeholder`);
      siblings.push(s);
    }
    levels.push({ bitmap, siblings });
  }
  let leaf = null;
  if (!r.nil()) { r.array(2); leaf = { key: r.bin(32), valueHash: r.bin(32) }; }
  r.end();
  return { levels, leaf };
}

const nibble = (key, i) => (i % 2 === 0 ? key[i >> 1] >> 4 : key[i >> 1] & 0x0f);

async function verifyStateProof(proof, root, key, value) {
  const stateTag = tag("state");
  const D = proof.levels.length;
  let t;
  if (proof.leaf) {
    for (let i = 0; i < D; i++) if (nibble(proof.leaf.key, i) !== nibble(key, i)) return false;
    if (value === null) {
      if (equal(proof.leaf.key, key)) return false;
    } else {
      const valueHash = await sha256(concat(stateTag, [2], value));
      if (!equal(proof.leaf.key, key) || !equal(proof.leaf.valueHash, valueHash)) return false;
    }
    t = await sha256(concat(stateTag, [0], proof.leaf.key, proof.leaf.valueHash));
  } else {
    if (value !== null) return false;
    t = new Uint8Array(32);
  }
  for (let d = D - 1; d >= 0; d--) {
    const j = nibble(key, d), level = proof.levels[d];
    if (level.bitmap & (1 << j)) return false;
    const children = [];
    let next = 0;
    for (let c = 0; c < 16; c++)
      children.push(c === j ? t : level.bitmap & (1 << c) ? level.siblings[next++] : new Uint8Array(32));
    t = await sha256(concat(stateTag, [1], ...children));
  }
  return equal(t, root);
}

// ---- the trust root: a validator set this browser pinned (trust on first use) ----

export async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

async function trustedSet(chainId, trustLine) {
  const key = `chain-explorer/trusted-validators/${chainId}`;
  let pinned = localStorage.getItem(key);
  let fresh = false;
  if (pinned === null) {
    const genesis = await getJson("/validators/1");
    pinned = genesis.raw;
    localStorage.setItem(key, pinned);
    fresh = true;
  }
  const set = await decodeValidatorSet(b64(pinned));
  if (trustLine) trustLine.textContent = (fresh ? "Pinned just now, on first use: " : "Trusted root pinned in this browser: ")
    + `the validator set of height 1 of chain ${chainId}, hash ${hex(set.hash)}, total power ${set.total}. `
    + "Compare this hash with the genesis validators you trust (chain genesis file); every check below is relative to it.";
  return set;
}

// ---- the checks ----

/** One list of checks on the page: each line passed, FAILED or not checked, with its detail. */
export class Checklist {
  constructor(list) { this.list = list; list.replaceChildren(); }

  show(name, ok, detail) {
    const li = document.createElement("li");
    li.className = ok === null ? "skip" : ok ? "pass" : "fail";
    li.dataset.check = name;
    li.textContent = `${ok === null ? "not checked" : ok ? "passed" : "FAILED"}: ${name}${detail ? " — " + detail : ""}`;
    this.list.append(li);
    return ok;
  }

  async check(name, body) {
    try {
      const [ok, detail] = await body();
      return this.show(name, ok, detail);
    } catch (e) {
      return this.show(name, false, e.message);
    }
  }

  /** A heading line between groups of checks (neither passed nor failed). */
  note(text) {
    const li = document.createElement("li");
    li.className = "note";
    li.textContent = text;
    this.list.append(li);
  }

  get failures() { return this.list.querySelectorAll("li.fail").length; }
}

/** Header, validator set, commit signatures and quorum of `height`; the verified header, or null. */
export async function verifyBlock(height, chainId, checks, trustLine = null) {
  const set = await trustedSet(chainId, trustLine);
  let header, headerBytes, headerHash;
  const headerOk = await checks.check("header decodes strictly and hashes to its id", async () => {
    const served = await getJson(`/headers/${height}`);
    headerBytes = b64(served.raw);
    header = decodeHeader(headerBytes);
    headerHash = await domainHash("header", headerBytes);
    if (header.height !== BigInt(height)) return [false, `it is the header of height ${header.height}, not ${height}`];
    if (header.chainId !== chainId) return [false, `chain ${header.chainId}, not ${chainId}`];
    return [true, `hash(header) = ${hex(headerHash)}`];
  });
  if (!headerOk) return null;
  await checks.check("header's validatorsHash is the trusted set", async () =>
    equal(header.validatorsHash, set.hash)
      ? [true, hex(set.hash)]
      : [false, `header names set ${hex(header.validatorsHash)}; the pinned set is ${hex(set.hash)} (following validator-set changes is not implemented here: use the light client)`]);
  let signedPower = 0n;
  const commitOk = await checks.check("commit signatures verify (Ed25519, WebCrypto)", async () => {
    if (!(await ed25519Supported())) return [null, "this browser's WebCrypto has no Ed25519; signatures cannot be checked here"];
    const served = await getJson(`/commits/${height}`);
    const commit = decodeCommit(b64(served.raw));
    if (commit.height !== BigInt(height)) return [false, `commit is for height ${commit.height}`];
    if (!equal(commit.blockHash, headerHash)) return [false, `commit signs block ${hex(commit.blockHash)}, not this header ${hex(headerHash)}`];
    const seen = new Set();
    for (const [i, s] of commit.signatures.entries()) {
      const member = set.validators.find(v => v.address === hex(s.validator));
      if (!member) return [false, `signatures[${i}]: ${hex(s.validator)} is not in the trusted set`];
      const vote = writeVote(2n, commit.height, commit.round, commit.blockHash, s.timestampMs, s.validator);
      if (!(await ed25519Verify(member.publicKey, s.signature, signBytes("vote", chainId, vote))))
        return [false, `signatures[${i}] by ${hex(s.validator)} does not verify`];
      if (!seen.has(member.address)) { seen.add(member.address); signedPower += member.power; }
    }
    return [true, `${commit.signatures.length} signatures, round ${commit.round}`];
  });
  const quorum = await checks.check("signers hold more than 2/3 of the trusted power", async () =>
    commitOk ? [3n * signedPower > 2n * set.total, `${signedPower} of ${set.total}`] : [false, "no verified signatures"]);
  return commitOk && quorum ? { header, headerBytes, headerHash } : null;
}

/** Transaction and receipt proofs against a verified header; the proven transaction bytes and receipt. */
export async function verifyTransaction(txHash, verified, checks) {
  const served = await getJson(`/txs/${txHash}`);
  await checks.check("the lookup's header is the verified header", async () =>
    [equal(b64(served.rawHeader), verified.headerBytes), `block ${hex(verified.headerHash)}`]);
  const rawTx = b64(served.rawTransaction), rawReceipt = b64(served.rawReceipt);
  await checks.check("transaction bytes hash to the transaction id", async () => {
    const id = hex(await domainHash("tx", rawTx));
    return [id === txHash, id];
  });
  await checks.check("transaction proof against the header's transactions root", async () =>
    [await verifyInclusion(decodeProof(b64(served.transactionProof)), rawTx, verified.header.transactionsRoot), `index ${served.index}`]);
  let receipt;
  await checks.check("receipt decodes strictly and names this transaction", async () => {
    receipt = decodeReceipt(rawReceipt);
    return [hex(receipt.txHash) === txHash, `status ${receipt.status}, gas ${receipt.gasUsed}`];
  });
  await checks.check("receipt proof against the header's receipts root", async () =>
    [await verifyInclusion(decodeProof(b64(served.receiptProof)), rawReceipt, verified.header.receiptsRoot), `index ${served.index}`]);
  if (receipt?.inference) {
    await checks.check("inference output bytes hash to the receipt's outputHash", async () => {
      const h = await domainHash("tensor", receipt.inference.output);
      return [equal(h, receipt.inference.outputHash), hex(h)];
    });
  }
  return { rawTx, receipt };
}

/** The model bytes against the id and the verified header's state root; the bytes when both checks pass, else null. */
export async function verifyModel(modelIdHex, served, verified, checks) {
  const modelId = Uint8Array.from(modelIdHex.match(/../g), x => parseInt(x, 16));
  const code = b64(served.proof.value ?? "");
  const idOk = await checks.check("model bytes hash to the model id", async () => {
    const h = await domainHash("model", code);
    return [equal(h, modelId), `${code.length} bytes`];
  });
  const stateOk = await checks.check("state proof of the model bytes against the verified header's state root", async () => {
    const key = await domainHash("state/model-code", modelId);
    const proof = decodeStateProof(b64(served.proof.proof));
    return [await verifyStateProof(proof, verified.header.stateRoot, key, code), `height ${served.proof.height}, ${proof.levels.length} levels`];
  });
  return idOk && stateOk ? code : null;
}
