// A code block wider than the page scrolls; make it reachable by keyboard, so that its
// hidden part can be read without a mouse (WCAG 2.1.1).
document.addEventListener("DOMContentLoaded", () => {
  for (const pre of document.querySelectorAll("pre")) {
    if (pre.scrollWidth > pre.clientWidth) {
      pre.tabIndex = 0;
      pre.setAttribute("role", "region");
      pre.setAttribute("aria-label", "Code");
    }
  }
});
