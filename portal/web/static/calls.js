// Your calls: the history of the key in this tab, each call expandable into its decision,
// loadable back into the console, and linkable for support without any secret.
import { apiCall, el, errorText, when } from "./api.js";
import { copyText } from "./common.js";
import { loadDecision, matchOperation } from "./decisions.js";
import { renderExplanation } from "./explain.js";
import { getKey, setKey } from "./keystore.js";

const operations = JSON.parse(document.getElementById("operations-data").textContent);
const $ = (id) => document.getElementById(id);
const rows = $("calls").tBodies[0];
let cursor = null;

function isLookup(path) {
  return path === "/v1/explain" || path === "/v1/decisions" || path.startsWith("/v1/decisions/");
}

function supportLink(requestId) {
  return `${location.origin}/calls?request_id=${encodeURIComponent(requestId)}`;
}

function loadIntoConsole(call) {
  const found = matchOperation(operations, call.request.method, call.request.path);
  if (!found) return false;
  sessionStorage.setItem("tdoc.load", JSON.stringify(found));
  location.href = `/console?load=1&op=${encodeURIComponent(found.operation)}`;
  return true;
}

function callRow(call) {
  const detail = el("tr", { class: "detail", hidden: true }, el("td", { colspan: 5 }));
  const toggle = el("button", { type: "button", class: "secondary small", "aria-expanded": "false" }, "Explain");
  toggle.addEventListener("click", async () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    detail.hidden = !open;
    if (open && !detail.dataset.loaded) {
      detail.cells[0].replaceChildren(el("p", { class: "muted" }, "Loading…"));
      const found = await loadDecision(call.request_id, getKey(), 1);
      detail.cells[0].replaceChildren(found.decision ? renderExplanation(found.decision) : el("p", { class: "notice" }, found.message));
      detail.dataset.loaded = "1";
    }
  });
  const load = el("button", { type: "button", class: "secondary small" }, "Load into console");
  load.addEventListener("click", () => { if (!loadIntoConsole(call)) load.textContent = "No such operation"; });
  const share = el("button", { type: "button", class: "secondary small" }, "Copy support link");
  share.addEventListener("click", () => copyText(supportLink(call.request_id), share));
  const answer = `${call.status} ${call.code}`;
  const { method, path, ip } = call.request;
  const row = el("tr", { "data-request-id": call.request_id },
    el("td", {}, when(call.time)),
    el("td", {}, el("code", {}, `${method || ""} ${path || ""}`.trim())),
    el("td", {}, el("span", { class: `status s${String(call.status)[0]}` }, answer)),
    el("td", {}, ip || "—"),
    el("td", {}, el("div", { class: "row" }, toggle, load, share)));
  return [row, detail];
}

async function page(first) {
  const key = getKey();
  if (!key) { $("calls-status").textContent = "Enter your key to see its calls."; return; }
  $("calls-status").textContent = "Loading…";
  const query = [["limit", "50"]];
  if (!first && cursor) query.push(["cursor", cursor]);
  const answer = await apiCall({ path: "/v1/decisions", query, key });
  if (!answer.ok) { $("calls-status").textContent = `Your calls could not be loaded: ${errorText(answer)}`; return; }
  if (first) rows.replaceChildren();
  // The console's and this page's own look-ups of explanations are calls too, but not the
  // ones a reader is looking for.
  const calls = (answer.json.data || []).filter((call) => !isLookup(call.request.path || ""));
  for (const call of calls) rows.append(...callRow(call));
  cursor = answer.json.next_cursor || null;
  $("calls").hidden = rows.rows.length === 0;
  $("calls-more").hidden = !cursor;
  $("calls-status").textContent = rows.rows.length ? `${rows.rows.length / 2} calls shown, newest first.` : "This key has made no calls yet.";
}

async function showOne(requestId) {
  $("one-call").hidden = false;
  $("one-call-id").textContent = requestId;
  const key = getKey();
  if (!key) { $("one-call-body").replaceChildren(el("p", { class: "notice" }, "Enter the key that made this call to see its explanation.")); return; }
  const found = await loadDecision(requestId, key, 1);
  $("one-call-body").replaceChildren(found.decision ? renderExplanation(found.decision) : el("p", { class: "notice" }, found.message));
}

const requestId = new URLSearchParams(location.search).get("request_id");
$("calls-key").value = getKey();
$("calls-key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setKey($("calls-key").value);
  if (requestId) showOne(requestId);
  page(true);
});
$("calls-more").addEventListener("click", () => page(false));
if (requestId) showOne(requestId);
page(true);
