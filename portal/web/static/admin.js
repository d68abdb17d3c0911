// What the key pages share: the admin key form, and a key record in words.
import { el, when } from "./api.js";
import { getKey, setKey } from "./keystore.js";

/** Fill the admin key form from this tab's storage; call `ready(key)` now and on submit. */
export function adminKey(formId, ready) {
  const form = document.getElementById(formId);
  const input = document.getElementById(`${formId}-input`);
  input.value = getKey("admin");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ready(setKey(input.value, "admin"));
  });
  ready(getKey("admin"));
}

/** A key's state as the API gives it, or worked out from its record. */
export function stateOf(key) {
  if (key.state) return key.state;
  if (key.revoked_at) return "revoked";
  if (key.disabled) return "disabled";
  if (key.expires_at && new Date(key.expires_at) < new Date()) return "expired";
  return "active";
}

/** How a key is shown: its prefix and last four characters (the API's `display`). */
export function keyShown(key) {
  return key.display || key.id;
}

/** A key's own rate limits in words: `default: 100 per 60 s (burst 100)`. */
export function limitsShown(limits) {
  return Object.entries(limits || {}).map(([name, r]) =>
    `${name}: ${r.limit} per ${r.period_seconds} s${r.burst && r.burst !== r.limit ? ` (burst ${r.burst})` : ""}`).join(", ");
}

export function keyRow(key) {
  return el("tr", { "data-key-id": key.id },
    el("td", {}, el("a", { href: `/keys/${encodeURIComponent(key.id)}` }, key.label || key.id)),
    el("td", {}, el("code", {}, keyShown(key))),
    el("td", {}, key.type),
    el("td", {}, key.environment),
    el("td", {}, stateOf(key)),
    el("td", {}, when(key.created_at)),
    el("td", {}, key.expires_at ? when(key.expires_at) : "never"),
    el("td", {}, key.last_used_at ? when(key.last_used_at) : "never"));
}

/** The secret of a create or rotate answer, wherever the API puts it. */
export function secretOf(answer) {
  return answer.secret || answer.key?.secret || "";
}

/** The record of a create or rotate answer. */
export function recordOf(answer) {
  return answer.key && typeof answer.key === "object" ? answer.key : answer;
}
