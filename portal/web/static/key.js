// One key: its record, usage over time, activity, alerts and lifecycle events; rotate
// with a grace period, disable or enable, revoke — each confirmed first.
import { apiJson, el, when } from "./api.js";
import { adminKey, keyShown, recordOf, secretOf, stateOf } from "./admin.js";
import { getKey } from "./keystore.js";

const $ = (id) => document.getElementById(id);
const keyId = $("key-id").textContent;
const base = `/v1/keys/${encodeURIComponent(keyId)}`;
let record = null;
let chart = null;

function confirmAction(title, text, action) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = action;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
}

function showRecord(key) {
  record = key;
  const state = stateOf(key);
  const facts = [
    ["Label", key.label], ["Key", keyShown(key)], ["Type", key.type], ["Environment", key.environment],
    ["State", state], ["Scopes", (key.scopes || []).join(", ") || "those of its type"],
    ["Allowed IPs", (key.allowed_ips || []).join(", ") || "anywhere"],
    ["Rate limits", Object.entries(key.rate_limits || {}).map(([n, r]) => `${n}: ${typeof r === "string" ? r : JSON.stringify(r)}`).join(", ") || "those of its type"],
    ["Created", when(key.created_at)], ["Expires", key.expires_at ? when(key.expires_at) : "never"],
    ["Last used", key.last_used_at ? when(key.last_used_at) : "never"],
  ];
  if (key.grace_until) facts.push(["Old secret works until", when(key.grace_until)]);
  $("key-details").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const ended = state === "revoked";
  for (const id of ["rotate", "disable", "revoke"]) $(id).disabled = ended;
  $("disable").textContent = key.disabled ? "Enable" : "Disable";
}

function drawUsage(points) {
  const box = $("usage-chart");
  const times = points.map((p) => Math.floor(new Date(p.minute || p.time).getTime() / 1000));
  const allowed = points.map((p) => p.allowed || 0);
  const denied = points.map((p) => (typeof p.denied === "object" && p.denied !== null
    ? Object.values(p.denied).reduce((a, b) => a + b, 0) : p.denied || 0));
  $("usage-table").tBodies[0].replaceChildren(...points.map((p, i) =>
    el("tr", {}, el("td", {}, when(p.minute || p.time)), el("td", {}, allowed[i]), el("td", {}, denied[i]))));
  const total = allowed.reduce((a, b) => a + b, 0);
  const refused = denied.reduce((a, b) => a + b, 0);
  box.setAttribute("aria-label", `Calls per minute: ${total} allowed and ${refused} denied over ${points.length} minutes`);
  $("usage-status").textContent = points.length ? `${total} allowed, ${refused} denied.` : "No calls yet.";
  if (!window.uPlot || !points.length) return;
  // The theme's colours are light-dark() pairs: let the page resolve one to an RGB value.
  const color = (name) => {
    const probe = el("span", { style: `color: var(${name})` });
    document.body.append(probe);
    const value = getComputedStyle(probe).color;
    probe.remove();
    return value;
  };
  const options = {
    width: Math.max(280, box.clientWidth), height: 220,
    series: [{}, { label: "allowed", stroke: color("--ok"), width: 2 }, { label: "denied", stroke: color("--bad"), width: 2 }],
    axes: [{ stroke: color("--muted"), grid: { stroke: color("--line") } }, { stroke: color("--muted"), grid: { stroke: color("--line") } }],
  };
  chart?.destroy();
  box.replaceChildren();
  chart = new window.uPlot(options, [times, allowed, denied], box);
}

function listItems(id, items, text) {
  $(id).replaceChildren(...(items.length ? items.map((item) => el("li", {}, text(item))) : [el("li", { class: "muted" }, "None.")]));
}

async function load(adminKeyValue) {
  if (!adminKeyValue) { $("key-page-status").textContent = "Enter an admin key to see this key."; return; }
  try {
    showRecord(await apiJson({ path: base, key: adminKeyValue }));
  } catch (e) {
    $("key-page-status").textContent = `The key could not be loaded: ${e.message}`;
    return;
  }
  $("key-page").hidden = false;
  $("key-page-status").textContent = "";
  const [usage, activity, alerts] = await Promise.allSettled([
    apiJson({ path: `${base}/usage`, key: adminKeyValue }),
    apiJson({ path: `${base}/activity`, query: [["limit", "100"]], key: adminKeyValue }),
    apiJson({ path: `${base}/alerts`, key: adminKeyValue }),
  ]);
  if (usage.status === "fulfilled") drawUsage(usage.value.data || []);
  else $("usage-status").textContent = `Usage could not be loaded: ${usage.reason.message}`;
  const entries = activity.status === "fulfilled" ? activity.value.data || [] : [];
  if (activity.status === "rejected") $("activity-status").textContent = `Activity could not be loaded: ${activity.reason.message}`;
  const decisions = entries.filter((a) => a.kind !== "event");
  $("activity").tBodies[0].replaceChildren(...decisions.map((a) => el("tr", {},
    el("td", {}, when(a.time)), el("td", {}, el("code", {}, `${a.method || ""} ${a.path || ""}`.trim() || a.kind || "")),
    el("td", {}, `${a.status || ""} ${a.code || ""} ${a.reason || ""}`.trim()))));
  listItems("events", entries.filter((a) => a.kind === "event"), (e) => `${when(e.time)} — ${e.event || e.action || e.type}${e.detail ? `: ${e.detail}` : ""}`);
  listItems("alerts", alerts.status === "fulfilled" ? alerts.value.data || [] : [], (a) => `${when(a.time)} — ${a.kind || a.type}: ${a.message || a.detail || ""}`);
}

async function act(path, body) {
  try {
    const answer = await apiJson({ method: "POST", path: `${base}/${path}`, body, key: getKey("admin") });
    return answer;
  } catch (e) {
    $("key-page-status").textContent = `Not done: ${e.message}`;
    return null;
  }
}

$("rotate").addEventListener("click", async () => {
  const grace = $("grace").value.trim() || "0s";
  if (!(await confirmAction("Rotate this key?", `A new secret is made; the old one keeps working for ${grace}, then stops.`, "Rotate"))) return;
  const answer = await act("rotate", { grace });
  if (!answer) return;
  $("rotated-secret").textContent = secretOf(answer);
  $("rotated").hidden = false;
  $("rotated").focus();
  $("key-page-status").textContent = `Rotated: the new key is ${recordOf(answer).id}.`;
  load(getKey("admin"));
});
$("disable").addEventListener("click", async () => {
  const enabling = record?.disabled;
  const answer = await act(enabling ? "enable" : "disable", {});
  if (answer) { $("key-page-status").textContent = enabling ? "Enabled." : "Disabled: calls with this key are refused until it is enabled."; load(getKey("admin")); }
});
$("revoke").addEventListener("click", async () => {
  if (!(await confirmAction("Revoke this key for good?", "Every call with it will be refused from now on. This cannot be undone.", "Revoke"))) return;
  const answer = await act("revoke", {});
  if (answer) { $("key-page-status").textContent = "Revoked."; load(getKey("admin")); }
});
addEventListener("resize", () => { if (chart) chart.setSize({ width: Math.max(280, $("usage-chart").clientWidth), height: 220 }); });
adminKey("admin-key", load);
