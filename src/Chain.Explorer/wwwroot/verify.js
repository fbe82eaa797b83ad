// "Verify in this browser" (docs/explorer.md): the page's Verify button runs the checks of proofs.js for what the
// page shows — a block, a transaction and its receipt, or a model's bytes.
import { Checklist, getJson, verifyBlock, verifyModel, verifyTransaction } from "./proofs.js";

const section = document.getElementById("verify");
const button = document.getElementById("verify-button");
const list = document.getElementById("checks");

async function run() {
  button.disabled = true;
  const checks = new Checklist(list);
  section.dataset.state = "running";
  try {
    const status = await getJson("/status");
    // A model page proves the model bytes at the height the node read them: that header is the one to verify.
    const model = section.dataset.model ? await getJson(`/models/${section.dataset.model}/code`) : null;
    if (model) section.dataset.height = String(model.proof.height);
    const verified = await verifyBlock(section.dataset.height, status.chainId, checks, section.querySelector(".trust"));
    if (model) {
      if (verified) await verifyModel(section.dataset.model, model, verified, checks);
      else checks.show("model bytes and their state proof", false, "the header of the proof's height did not verify");
    }
    if (section.dataset.tx) {
      if (verified) await verifyTransaction(section.dataset.tx, verified, checks);
      else checks.show("transaction and receipt proofs", false, "the block they belong to did not verify");
    }
  } catch (e) {
    checks.show("verification", false, e.message);
  }
  const failed = checks.failures;
  section.dataset.state = failed === 0 ? "passed" : "failed";
  const summary = document.createElement("li");
  summary.className = failed === 0 ? "pass" : "fail";
  summary.dataset.check = "summary";
  summary.textContent = failed === 0 ? "Every check passed in this browser." : `${failed} check(s) failed: do not trust what this node served.`;
  list.append(summary);
  button.disabled = false;
}

if (section && button) {
  button.disabled = false;
  button.addEventListener("click", run);
}
