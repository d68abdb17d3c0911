// The reader's keys, kept in sessionStorage only: gone when the tab closes, never in
// localStorage, never in a cookie, and sent only to the API as Authorization: Bearer.
const SLOTS = { caller: "tdoc.key", admin: "tdoc.adminKey" };

export function getKey(slot = "caller") {
  try { return sessionStorage.getItem(SLOTS[slot]) || ""; } catch (e) { return ""; }
}

export function setKey(value, slot = "caller") {
  const key = (value || "").trim();
  try {
    if (key) sessionStorage.setItem(SLOTS[slot], key);
    else sessionStorage.removeItem(SLOTS[slot]);
  } catch (e) { /* storage disabled: the key lives in the form only */ }
  document.dispatchEvent(new CustomEvent("tdoc:key", { detail: { slot } }));
  return key;
}

/** A key as it may be shown: its prefix and last four characters, never the middle. */
export function masked(key) {
  if (!key) return "";
  const parts = key.split("_");
  const prefix = parts.length >= 3 ? parts.slice(0, 2).join("_") + "_" : key.slice(0, 4);
  return `${prefix}…${key.slice(-4)}`;
}
