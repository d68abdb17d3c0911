// The try-it console: pick an operation, fill it in (from its examples), send it for
// real or simulate it, and read the answer with the engine's decision step by step.
import { apiCall, el, withQuery } from "./api.js";
import { setupSamples } from "./common.js";
import { renderExplanation } from "./explain.js";
import { getKey, setKey } from "./keystore.js";
import { loadDecision, simulate } from "./decisions.js";
import { rateLimitWords } from "./ratelimit.js";

const operations = JSON.parse(document.getElementById("operations-data").textContent);
const byId = Object.fromEntries(operations.map((op) => [op.id, op]));
const $ = (id) => document.getElementById(id);
const form = $("console-form");
const select = $("operation");
const keyInput = $("console-key");
let current = null;

function fieldId(p) { return `param-${p.in}-${p.name}`; }

function showOperation(op, values = {}) {
  current = op;
  select.value = op.id;
  $("operation-scope").textContent = op.scope ? `Needs scope ${op.scope}.` : op.secured ? "Needs a key." : "Needs no key.";
  const box = $("param-fields");
  box.replaceChildren();
  for (const p of op.parameters) {
    const id = fieldId(p);
    const given = values[`${p.in}:${p.name}`];
    box.append(el("div", { class: "field" },
      el("label", { for: id }, `${p.name} `, el("span", { class: "muted" }, `(${p.in}${p.required ? ", required" : ""})`)),
      el("input", { id, name: id, value: given ?? p.example ?? "", required: p.required, "aria-describedby": p.description ? `${id}-hint` : null }),
      p.description ? el("p", { class: "hint", id: `${id}-hint` }, p.description) : null));
  }
  $("params").hidden = op.parameters.length === 0;
  $("body-field").hidden = !op.body;
  if (op.body) {
    const body = values.body !== undefined ? values.body : op.body_example;
    $("body").value = body === null || body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body, null, 2);
  }
  $("body-error").textContent = "";
  refreshSamples();
}

/** The request the form describes, or an error message. */
function described() {
  const op = current;
  let path = op.path;
  const query = [];
  const headers = [];
  const pathParams = {};
  for (const p of op.parameters) {
    const value = $(fieldId(p)).value.trim();
    if (p.required && value === "") return { error: `Give the ${p.in} parameter ${p.name}.`, field: fieldId(p) };
    if (p.in === "path") { pathParams[p.name] = value; path = path.replace(`{${p.name}}`, encodeURIComponent(value)); }
    else if (p.in === "query" && value !== "") query.push([p.name, value]);
    else if (p.in === "header" && value !== "") headers.push([p.name, value]);
  }
  let body;
  if (op.body) {
    const text = $("body").value.trim();
    if (text) {
      try { body = JSON.parse(text); } catch (e) { return { error: `The body is not JSON: ${e.message}`, field: "body" }; }
    } else if (op.body_required) return { error: "This operation needs a body.", field: "body" };
  }
  return { method: op.method, template: op.path, path, pathParams, query, headers, body, secured: op.secured };
}

let samplesTimer;
function refreshSamples() {
  clearTimeout(samplesTimer);
  samplesTimer = setTimeout(async () => {
    const r = described();
    if (r.error) return;
    const answer = await fetch("/portal/samples", {
      method: "POST", headers: { "Content-Type": "application/json" }, credentials: "omit",
      body: JSON.stringify({ method: r.method, path: r.template, path_params: r.pathParams, query: r.query,
        headers: r.headers, body: r.body === undefined ? null : r.body, secured: r.secured }),
    });
    if (!answer.ok) return;
    const { samples } = await answer.json();
    const group = el("div", { class: "samples", "data-samples": "" },
      el("div", { role: "tablist", class: "tabs", "aria-label": "Code sample language" },
        samples.map((s, i) => el("button", { type: "button", role: "tab", id: `console-tab-${s.id}`, "aria-controls": `console-panel-${s.id}`,
          "aria-selected": String(i === 0), tabindex: i === 0 ? 0 : -1, "data-lang": s.id }, s.label))),
      samples.map((s, i) => {
        const code = el("code");
        code.innerHTML = s.html; // highlighted on the server, from escaped text
        return el("div", { role: "tabpanel", id: `console-panel-${s.id}`, "aria-labelledby": `console-tab-${s.id}`, hidden: i !== 0, "data-lang": s.id },
          el("div", { class: "code-bar" }, el("span", { class: "muted" }, `${s.filename} · ${s.run}`), el("button", { type: "button", class: "copy", "data-copy": "" }, "Copy")),
          el("pre", { class: "code hl", tabindex: "0" }, code));
      }));
    $("console-samples").replaceChildren(group);
    setupSamples($("console-samples"));
  }, 250);
}

function invalid(r) {
  $("console-status").textContent = r.error;
  if (r.field === "body") $("body-error").textContent = r.error;
  $(r.field)?.focus();
}

function showResponse(answer) {
  $("response-section").hidden = false;
  $("response-status").replaceChildren(
    el("span", { class: `status s${String(answer.status)[0]}` }, `${answer.status} ${answer.statusText}`),
    ` in ${answer.ms} ms · request id `, el("code", {}, answer.requestId));
  $("response-limits").replaceChildren(...rateLimitWords(answer.header).map((w) => el("li", {}, w)));
  $("response-headers").tBodies[0].replaceChildren(...answer.headers.map(([k, v]) => el("tr", {}, el("td", {}, el("code", {}, k)), el("td", {}, v))));
  $("response-body").textContent = answer.json !== null ? JSON.stringify(answer.json, null, 2) : answer.text || "(no body)";
}

function showDecision(node, requestId) {
  $("decision-section").hidden = false;
  $("decision").replaceChildren(node);
  const link = $("support-link");
  link.replaceChildren();
  if (requestId) {
    const href = `${location.origin}/calls?request_id=${encodeURIComponent(requestId)}`;
    link.append("Link for support (shows the explanation only to the holder of this key): ", el("a", { href }, href));
  }
}

async function send(event) {
  event.preventDefault();
  const r = described();
  if (r.error) return invalid(r);
  const key = setKey(keyInput.value);
  $("console-status").textContent = "Sending…";
  let answer;
  try {
    answer = await apiCall({ method: r.method, path: r.path, query: r.query, headers: r.headers, body: r.body, key });
  } catch (e) {
    $("console-status").textContent = `The request failed: ${e.message}`;
    return;
  }
  $("console-status").textContent = `${answer.status} ${answer.statusText}`;
  showResponse(answer);
  showDecision(el("p", { class: "muted" }, "Looking up the decision…"), answer.requestId);
  const found = await loadDecision(answer.requestId, key);
  showDecision(found.decision ? renderExplanation(found.decision) : el("p", { class: "notice" }, found.message), answer.requestId);
}

async function simulateRequest() {
  const r = described();
  if (r.error) return invalid(r);
  const key = setKey(keyInput.value);
  $("console-status").textContent = "Simulating…";
  const found = await simulate({ method: r.method, path: withQuery(r.path, r.query), headers: Object.fromEntries(r.headers) }, key);
  $("console-status").textContent = found.decision ? "Simulated: nothing was sent to the operation." : found.message;
  showDecision(found.decision ? renderExplanation(found.decision) : el("p", { class: "notice error" }, found.message), null);
}

select.addEventListener("change", () => {
  showOperation(byId[select.value]);
  history.replaceState(null, "", `?op=${encodeURIComponent(select.value)}`);
});
form.addEventListener("submit", send);
form.addEventListener("input", (event) => { if (event.target !== keyInput) refreshSamples(); });
$("simulate").addEventListener("click", simulateRequest);
$("show-key").addEventListener("click", (event) => {
  const show = keyInput.type === "password";
  keyInput.type = show ? "text" : "password";
  event.currentTarget.setAttribute("aria-pressed", String(show));
  event.currentTarget.textContent = show ? "Hide" : "Show";
});
$("forget-key").addEventListener("click", () => { keyInput.value = ""; setKey(""); });
keyInput.addEventListener("change", () => setKey(keyInput.value));
keyInput.value = getKey();

// ?op=ID picks an operation; ?load=… (from "your calls") fills it in as it was sent.
const params = new URLSearchParams(location.search);
const loaded = params.get("load") ? JSON.parse(sessionStorage.getItem("tdoc.load") || "null") : null;
const start = byId[loaded?.operation || params.get("op")] || operations[0];
if (start) showOperation(start, loaded?.values || {});
