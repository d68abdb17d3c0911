// A decision, explained step by step: which key and type, each step of the check with
// what it found (scope matched or missing, IP rule, policy rule with file, line and
// reason), and how much of each limit is left.
import { el, when } from "./api.js";
import { limitInWords } from "./ratelimit.js";

const STEP_NAMES = {
  credential: "Credential", key: "Key", state: "Key state", environment: "Environment",
  ip: "Client IP", scope: "Scope", rules: "Policy rules", usage: "Usage credits",
  rate: "Rate limits", engine: "Engine", policy: "Policies", done: "Decision",
};

function ruleText(rule) {
  if (!rule) return null;
  if (typeof rule === "string") return rule;
  const where = rule.file ? ` — ${rule.file}${rule.line ? `:${rule.line}` : ""}` : "";
  return `${rule.name}${where}`;
}

function meter(l) {
  if (l.limit === undefined || l.remaining === undefined || !l.limit) return null;
  const percent = Math.max(0, Math.min(100, Math.round((100 * l.remaining) / l.limit)));
  return el("span", { class: "meter", role: "img", "aria-label": `${percent}% left` },
    el("span", { style: `width: ${percent}%` }));
}

/** Render explanation `d` (the API's decision document) into a new element. */
export function renderExplanation(d) {
  const allowed = !!d.allowed;
  const box = el("section", { class: "explanation", "aria-label": "Decision" });
  box.append(el("p", { class: `verdict ${allowed ? "allowed" : "denied"}` },
    allowed ? "✓ Allowed" : `✗ Denied: ${d.code} (${d.status})`,
    d.simulated ? " — simulated, nothing was executed or counted" : ""));
  if (d.reason) box.append(el("p", { class: "reason" }, d.reason));
  const facts = el("dl", { class: "kv" });
  const add = (term, value) => { if (value) facts.append(el("dt", {}, term), el("dd", {}, value)); };
  if (d.request) add("Request", `${d.request.method || ""} ${d.request.path || ""}${d.request.ip ? ` from ${d.request.ip}` : ""}`);
  if (d.key) add("Key", `${d.key.id} — type ${d.key.type}, ${d.key.environment} environment`);
  else add("Key", "none recognised");
  add("Decided at", STEP_NAMES[d.step] || d.step);
  add("Rule", ruleText(d.rule));
  add("Request id", d.request_id);
  add("When", d.time ? when(d.time) : null);
  if (d.error) add("Error", d.error);
  box.append(facts);
  if (Array.isArray(d.trace) && d.trace.length) {
    box.append(el("h3", {}, "Step by step"));
    const list = el("ol", { class: "steps-list" });
    for (const s of d.trace) {
      list.append(el("li", { class: s.passed ? "pass" : "fail" },
        el("span", { class: `mark ${s.passed ? "pass" : "fail"}`, "aria-label": s.passed ? "passed" : "failed" }, s.passed ? "✓" : "✗"),
        el("span", { class: "step-name" }, STEP_NAMES[s.step] || s.step),
        el("span", { class: "step-detail" }, s.detail)));
    }
    box.append(list);
  }
  if (Array.isArray(d.limits) && d.limits.length) {
    box.append(el("h3", {}, "Limits"));
    box.append(el("ul", { class: "limits" }, d.limits.map((l) => el("li", {}, meter(l), " ", limitInWords(l)))));
  }
  return box;
}
