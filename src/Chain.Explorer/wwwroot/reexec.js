// "Re-execute in this browser" (docs/explorer.md): proves the inference transaction, its receipt and the model bytes
// exactly as Verify does, then runs the model on the proven input with infer.js — a second implementation of
// docs/inference-semantics.md — and compares the output bytes with the receipt's. Nothing the node says is used
// unproven: the input comes from the proven transaction, the model from its state proof.
import { Checklist, decodeInferTransaction, domainHash, equal, getJson, hex, verifyBlock, verifyModel, verifyTransaction } from "./proofs.js";
import { loadModel, run, decodeTensor, encodeTensor, OPS, SEMANTICS_VERSION, Unsupported } from "./infer.js";

const section = document.getElementById("reexec");
const button = document.getElementById("reexec-button");
const list = document.getElementById("reexec-checks");
const result = document.getElementById("reexec-result");

async function reexecute(checks) {
  const { chainId } = await getJson("/status");
  checks.note(`The transaction, its block (height ${section.dataset.height}) and its receipt:`);
  const verified = await verifyBlock(section.dataset.height, chainId, checks);
  if (!verified) return ["failed", "the transaction's block did not verify"];
  const { rawTx, receipt } = await verifyTransaction(section.dataset.tx, verified, checks);
  if (checks.failures > 0 || !receipt?.inference) return ["failed", "the transaction or its receipt did not verify"];
  const inference = receipt.inference;
  let input;
  const inputOk = await checks.check("the proven transaction is an inference whose input hashes to the receipt's inputHash", async () => {
    const tx = decodeInferTransaction(rawTx);
    input = tx.input;
    const h = await domainHash("tensor", input);
    if (!equal(tx.modelId, inference.modelId)) return [false, `the transaction names model ${hex(tx.modelId)}, the receipt ${hex(inference.modelId)}`];
    return [equal(h, inference.inputHash), `${input.length} bytes, ${hex(h)}`];
  });
  if (!inputOk) return ["failed", "the input could not be proven"];
  if (inference.semanticsVersion !== SEMANTICS_VERSION)
    return ["unsupported", `the receipt was computed under semantics version ${inference.semanticsVersion}; this browser implements version ${SEMANTICS_VERSION}`];

  const modelId = hex(inference.modelId);
  const served = await getJson(`/models/${modelId}/code`);
  checks.note(`The model bytes, proven in the state of height ${served.proof.height}:`);
  const modelBlock = await verifyBlock(String(served.proof.height), chainId, checks);
  const bytes = modelBlock ? await verifyModel(modelId, served, modelBlock, checks) : null;
  if (!bytes) return ["failed", "the model bytes could not be proven"];

  let model, output, ms;
  try {
    model = loadModel(bytes);
    if (model.missing.length > 0)
      return ["unsupported", `the model uses ${model.missing.join(", ")}, which this browser's implementation does not have (it has ${OPS.join(", ")}); it was not re-executed`];
    checks.note("Re-execution:");
    const started = performance.now();
    output = encodeTensor(run(model, decodeTensor(input, "input tensor")));
    ms = performance.now() - started;
  } catch (e) {
    // A form this implementation lacks is not a failure of the node; anything else (a refusal) is reported as one.
    if (e instanceof Unsupported) return ["unsupported", `${e.message}; it was not re-executed`];
    throw e;
  }
  section.dataset.ms = ms.toFixed(1);
  const outputHash = await domainHash("tensor", output);
  const match = await checks.check("the browser's output equals the receipt's output byte for byte", async () =>
    [equal(output, inference.output), `${output.length} bytes, hash ${hex(outputHash)}, computed in ${ms.toFixed(1)} ms`]);
  return match
    ? ["match", `Re-executed in this browser in ${ms.toFixed(1)} ms: the output matches the receipt byte for byte.`]
    : ["mismatch", `Re-executed in this browser in ${ms.toFixed(1)} ms: the output DIFFERS from the receipt's (hash ${hex(outputHash)}, the receipt's ${hex(inference.outputHash)}).`];
}

async function start() {
  button.disabled = true;
  const checks = new Checklist(list);
  section.dataset.state = "running";
  result.textContent = "Running…";
  let state, message;
  try {
    [state, message] = await reexecute(checks);
  } catch (e) {
    checks.show("re-execution", false, e.message);
    [state, message] = ["failed", e.message];
  }
  if (state === "failed") message = `Not re-executed: ${message}. Do not trust what this node served.`;
  if (state === "unsupported") message = `Not re-executed: ${message}.`;
  section.dataset.state = state;
  result.className = state === "match" ? "pass" : state === "unsupported" ? "skip" : "fail";
  result.textContent = message;
  button.disabled = false;
}

if (section && button) {
  section.querySelector(".ops").textContent = `This browser's implementation has the operators ${OPS.join(", ")} (those of the genesis MNIST models); for a model with others the page says so and does not run it.`;
  button.disabled = false;
  button.addEventListener("click", start);
}
