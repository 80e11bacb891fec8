// The staff dashboard's progressive enhancements (issue 9). Every page works without this file.
(function () {
  "use strict";
  var help = document.getElementById("shortcut-help");
  function toggleHelp() {
    if (!help) return;
    help.hidden = !help.hidden;
    if (!help.hidden) help.querySelector("button").focus();
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-help-toggle]")) toggleHelp();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && help && !help.hidden) { toggleHelp(); return; }
    var typing = event.target.closest("input, textarea, select, [contenteditable]");
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "?") { event.preventDefault(); toggleHelp(); }
  });
})();
