// Runs in <head>, before the page paints: the reader's chosen theme, if any. Without a
// choice the stylesheet follows the system (prefers-color-scheme).
(function () {
  try {
    var theme = localStorage.getItem("tdoc.theme");
    if (theme === "dark" || theme === "light") document.documentElement.dataset.theme = theme;
  } catch (e) { /* storage disabled: follow the system */ }
})();
