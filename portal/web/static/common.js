// On every page: the theme toggle, the reader's sample language, copy buttons, and the
// key the console and history use.
import { getKey, masked } from "./keystore.js";

const root = document.documentElement;
const LANG = "tdoc.lang";

function systemDark() { return matchMedia("(prefers-color-scheme: dark)").matches; }
function isDark() { return root.dataset.theme ? root.dataset.theme === "dark" : systemDark(); }

function setupTheme() {
  const button = document.getElementById("theme-toggle");
  if (!button) return;
  const show = () => button.setAttribute("aria-pressed", String(isDark()));
  button.addEventListener("click", () => {
    const next = isDark() ? "light" : "dark";
    root.dataset.theme = next;
    try { localStorage.setItem("tdoc.theme", next); } catch (e) { /* not remembered */ }
    show();
  });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", show);
  show();
}

export function storedLanguage() {
  try { return localStorage.getItem(LANG) || "curl"; } catch (e) { return "curl"; }
}

/** Show `lang` in every sample group on the page (and remember it, when asked). */
export function chooseLanguage(lang, remember = true) {
  if (remember) { try { localStorage.setItem(LANG, lang); } catch (e) { /* session only */ } }
  for (const group of document.querySelectorAll("[data-samples]")) selectIn(group, lang);
}

function selectIn(group, lang) {
  const tabs = [...group.querySelectorAll("[role=tab]")];
  if (!tabs.some((t) => t.dataset.lang === lang)) return;
  for (const tab of tabs) {
    const on = tab.dataset.lang === lang;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    document.getElementById(tab.getAttribute("aria-controls")).hidden = !on;
  }
}

/** Tabs that follow the WAI-ARIA pattern: click, arrows, Home and End. */
export function setupSamples(scope = document) {
  for (const group of scope.querySelectorAll("[data-samples]")) {
    if (group.dataset.ready) continue;
    group.dataset.ready = "1";
    const tabs = [...group.querySelectorAll("[role=tab]")];
    group.querySelector("[role=tablist]").addEventListener("keydown", (event) => {
      const at = tabs.indexOf(document.activeElement);
      if (at < 0) return;
      const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      const tab = tabs[(to + tabs.length) % tabs.length];
      chooseLanguage(tab.dataset.lang);
      tab.focus();
    });
    for (const tab of tabs) tab.addEventListener("click", () => chooseLanguage(tab.dataset.lang));
    selectIn(group, storedLanguage());
  }
}

export async function copyText(text, button) {
  let done = false;
  try { await navigator.clipboard.writeText(text); done = true; } catch (e) {
    const area = Object.assign(document.createElement("textarea"), { value: text });
    document.body.append(area); area.select();
    try { done = document.execCommand("copy"); } catch (e2) { done = false; }
    area.remove();
  }
  if (button) {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = done ? "Copied" : "Copy failed";
    setTimeout(() => { button.textContent = label; }, 1500);
  }
  return done;
}

function setupCopy() {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const target = button.dataset.copyTarget
      ? document.getElementById(button.dataset.copyTarget)
      : button.closest("[role=tabpanel], .copyable")?.querySelector("pre code, code, .secret");
    if (target) copyText(target.textContent, button);
  });
}

function showKey() {
  const status = document.getElementById("key-status");
  if (!status) return;
  const key = getKey();
  status.textContent = key ? `Key ${masked(key)}` : "No key";
}

setupTheme();
setupSamples();
setupCopy();
showKey();
document.addEventListener("tdoc:key", showKey);
