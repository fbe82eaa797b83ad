// Live blocks on the front page: the node's Server-Sent Events (/events/blocks) prepend rows to the table.
const table = document.getElementById("blocks");
const MAX_ROWS = 20;

function short(hex) { return hex.length <= 16 ? hex : `${hex.slice(0, 8)}…${hex.slice(-6)}`; }

function cell(row, content) {
  const td = row.insertCell();
  if (content instanceof Node) td.append(content); else td.textContent = content;
}

function link(href, text) { const a = document.createElement("a"); a.href = href; a.textContent = text; return a; }

function addBlock(event) {
  let body = table?.tBodies[0];
  if (!body) { location.reload(); return; } // the first block: the server renders the table
  if ([...body.rows].some(r => r.cells[0].textContent === String(event.height))) return;
  const row = body.insertRow(0);
  row.dataset.live = "true";
  cell(row, link(`/explorer/blocks/${event.height}`, String(event.height)));
  const code = document.createElement("code"); code.textContent = short(event.hash); cell(row, code);
  cell(row, String(event.txCount));
  cell(row, new Date(event.timeMs).toISOString().replace("T", " ").replace("Z", ""));
  cell(row, "see block");
  while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
}

const source = new EventSource("/events/blocks");
source.addEventListener("block", e => addBlock(JSON.parse(e.data)));
// Tells a reader (and the browser test) that live updates are on.
source.onopen = () => { document.body.dataset.live = "connected"; };
