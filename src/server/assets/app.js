// Progressive enhancements only: every page works without this file.
// On a diff page: "n" and "p" go to the next and previous change, "e" opens or folds every
// unchanged run; changing a version selector compares at once.
(function () {
  "use strict";
  document.addEventListener("keydown", function (e) {
    if (e.target.closest && e.target.closest("input, select, textarea")) return;
    if (e.metaKey || e.ctrlKey || e.altKey) return;
    var link = null;
    if (e.key === "n") link = document.getElementById("next");
    if (e.key === "p") link = document.getElementById("prev");
    if (link) { window.location.href = link.href; return; }
    if (e.key === "e") {
      var all = document.querySelectorAll("details.unchanged");
      var open = Array.prototype.some.call(all, function (d) { return !d.open; });
      all.forEach(function (d) { d.open = open; });
    }
  });
  ["from", "to"].forEach(function (id) {
    var select = document.getElementById(id);
    if (select && select.form) select.addEventListener("change", function () { select.form.submit(); });
  });
})();
