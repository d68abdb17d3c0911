// The reference: search the operations (press / or Ctrl+K), and open a permalink's details.
const input = document.getElementById("search");
const operations = [...document.querySelectorAll(".operation")];
const count = document.getElementById("search-count");
const none = document.getElementById("no-results");

function filter() {
  const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const op of operations) {
    const hit = words.every((w) => op.dataset.search.includes(w));
    op.hidden = !hit;
    document.querySelector(`[data-op="${op.id}"]`).hidden = !hit;
    if (hit) shown += 1;
  }
  for (const tag of document.querySelectorAll("section.tag")) {
    tag.hidden = !tag.querySelector(".operation:not([hidden])");
  }
  none.hidden = shown > 0;
  count.textContent = words.length ? `${shown} of ${operations.length} operations` : "";
}

input.addEventListener("input", filter);
input.addEventListener("keydown", (event) => {
  if (event.key === "Escape") { input.value = ""; filter(); }
  if (event.key === "Enter") {
    const first = operations.find((op) => !op.hidden);
    if (first) { location.hash = first.id; first.querySelector("h3").focus(); }
  }
});
document.addEventListener("keydown", (event) => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || "");
  if ((event.key === "/" && !typing) || (event.key.toLowerCase() === "k" && (event.ctrlKey || event.metaKey))) {
    event.preventDefault();
    input.focus();
    input.select();
  }
});

function openTarget() {
  const target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (!target) return;
  target.closest("details")?.setAttribute("open", "");
}
addEventListener("hashchange", openTarget);
openTarget();
