// Shared by every page: epoch-millisecond cells shown as readable UTC times.
"use strict";
document.querySelectorAll(".ts[data-ms]").forEach(function (el) {
  var ms = parseInt(el.getAttribute("data-ms"), 10);
  if (!isNaN(ms) && ms > 1e11) {
    el.textContent = new Date(ms).toISOString().replace("T", " ").slice(0, 16) + " UTC";
  }
});
