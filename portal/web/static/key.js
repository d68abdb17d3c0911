// One key: its record, usage over time, activity, alerts and lifecycle events; rotate
// with a grace period, disable or enable, revoke — each confirmed first.
import { apiJson, el, when } from "./api.js";
import { adminKey, keyShown, limitsShown, recordOf, secretOf, stateOf } from "./admin.js";
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
    ["Rate limits", limitsShown(key.rate_limits) || "those of its type"],
    ["Usage credits", key.usage ? `${key.usage.credits}, refilled ${key.usage.refill}` : "those of its type"],
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
  const times = points.map((p) => Math.floor(new Date(p.start).getTime() / 1000));
  const allowed = points.map((p) => p.allowed || 0);
  const denied = points.map((p) => (typeof p.denied === "object" && p.denied !== null
    ? Object.values(p.denied).reduce((a, b) => a + b, 0) : p.denied || 0));
  $("usage-table").tBodies[0].replaceChildren(...points.map((p, i) =>
    el("tr", {}, el("td", {}, when(p.start)), el("td", {}, allowed[i]), el("td", {}, denied[i]))));
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
  // Activity holds decisions ("event": "decision") and lifecycle events ("key.created", …).
  const decisions = entries.filter((a) => a.event === "decision");
  $("activity").tBodies[0].replaceChildren(...decisions.map((a) => el("tr", { "data-request-id": a.request_id },
    el("td", {}, when(a.at)), el("td", {}, el("code", {}, `${a.method || ""} ${a.path || ""}`.trim() || a.action || "")),
    el("td", {}, `${a.status} ${a.code}: ${a.reason}${a.client ? ` (from ${a.client})` : ""}`))));
  if (activity.status === "fulfilled") $("activity-status").textContent = decisions.length ? "" : "No calls yet.";
  listItems("events", entries.filter((a) => a.event !== "decision"), (e) => `${when(e.at)} — ${e.event} by ${e.actor}`);
  listItems("alerts", alerts.status === "fulfilled" ? alerts.value.data || [] : [],
    (a) => `${when(a.first_seen)} — ${a.severity} (${a.state}), ${a.kind}: ${a.message}${a.count > 1 ? ` — seen ${a.count} times, last ${when(a.last_seen)}` : ""}`);
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
  // Reloading clears the status line: say what was done once it has.
  await load(getKey("admin"));
  $("key-page-status").textContent = `Rotated: the new key is ${recordOf(answer).id}.`;
});
$("disable").addEventListener("click", async () => {
  const enabling = record?.disabled;
  const answer = await act(enabling ? "enable" : "disable", {});
  if (!answer) return;
  await load(getKey("admin"));
  $("key-page-status").textContent = enabling ? "Enabled." : "Disabled: calls with this key are refused until it is enabled.";
});
$("revoke").addEventListener("click", async () => {
  if (!(await confirmAction("Revoke this key for good?", "Every call with it will be refused from now on. This cannot be undone.", "Revoke"))) return;
  const answer = await act("revoke", {});
  if (!answer) return;
  await load(getKey("admin"));
  $("key-page-status").textContent = "Revoked: every call with this key is refused from now on.";
});
addEventListener("resize", () => { if (chart) chart.setSize({ width: Math.max(280, $("usage-chart").clientWidth), height: 220 }); });
adminKey("admin-key", load);
