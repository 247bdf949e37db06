// Shared by every page: epoch-millisecond cells shown as readable UTC times.
"use strict";
document.querySelectorAll(".ts[data-ms]").forEach(function (el) {
  var ms = parseInt(el.getAttribute("data-ms"), 10);
  // The graph keeps some times as epoch seconds and others as milliseconds.
  if (!isNaN(ms) && ms < 1e11) { ms *= 1000; }
  if (!isNaN(ms) && ms > 1e9) {
    el.textContent = new Date(ms).toISOString().replace("T", " ").slice(0, 16) + " UTC";
  }
});
