// The staff dashboard's progressive enhancements (issue 9, items 2, 4 and 8): the keyboard
// shortcuts with their help dialog, and the SLA clocks counting down. Every page works without
// this file: the buttons, links and forms do the same, and the clocks show the time of the load.
(function () {
  "use strict";

  // The key map: every shortcut the dashboard handles. templates/dashboard/_shortcuts.html lists
  // each one on the help dialog, and tests/dashboard/test_look.py checks that the two agree.
  // A key with a space is a sequence: "g" then "q".
  var SHORTCUTS = {
    "j": nextRow,
    "k": previousRow,
    "o": openRow,
    "Enter": openRow,
    "a": assignToMe,
    "c": writeComment,
    "/": search,
    "g q": goToQueue,
    "?": toggleHelp
  };
  var SEQUENCE_MS = 1500; // the second key of a sequence must follow within this time
  var STORAGE_KEY = "cert-portal.dashboard.shortcuts";
  var TYPING = "input, textarea, select, [contenteditable]";
  var FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), ' +
    'select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

  var help = document.getElementById("shortcut-help");
  var panel = help ? help.querySelector('[role="dialog"]') : null;
  var opener = null; // what had the focus before the help opened: it gets it back
  var pending = "", pendingAt = 0;

  // The element a key or click event is about (the page itself when it was sent to the document).
  function targetOf(event) {
    return event.target && event.target.nodeType === 1 ? event.target : document.body;
  }

  // Single-key shortcuts can be turned off (WCAG 2.1.4): a speech-input or screen-reader user may
  // set them off by accident. The choice is kept in this browser.
  var offOnThisPage = false; // where the browser keeps nothing, the choice lasts for this page
  function enabled() {
    try { return !offOnThisPage && window.localStorage.getItem(STORAGE_KEY) !== "off"; }
    catch (e) { return !offOnThisPage; }
  }
  function setEnabled(on) {
    offOnThisPage = !on;
    try {
      if (on) window.localStorage.removeItem(STORAGE_KEY);
      else window.localStorage.setItem(STORAGE_KEY, "off");
    } catch (e) { /* storage refused: offOnThisPage holds the choice */ }
  }

  // What a key press means, whatever the keyboard layout: with an Urdu layout the letter keys
  // give Urdu letters, so those are read by their position (event.code) instead.
  function keyOf(event) {
    var key = event.key;
    if (key && key.length === 1 && key.charCodeAt(0) > 127) {
      var letter = /^Key([A-Z])$/.exec(event.code || "");
      if (letter) return letter[1].toLowerCase();
      if (event.code === "Slash") return event.shiftKey ? "?" : "/";
    }
    return key;
  }

  // The list rows: the queue's, one selected at a time; its link takes the focus, so that a
  // screen reader reads the row's reference.
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-queue-row]"));
  }
  function selectedRow() {
    return document.querySelector("[data-queue-row].is-selected");
  }
  function markSelected(row) {
    rows().forEach(function (each) { each.classList.toggle("is-selected", each === row); });
  }
  function moveSelection(step) {
    var all = rows();
    if (!all.length) return false;
    var current = all.indexOf(selectedRow());
    var row = all[current < 0 ? 0 : Math.min(all.length - 1, Math.max(0, current + step))];
    markSelected(row);
    var link = row.querySelector("[data-queue-link]");
    if (link) link.focus();
    if (row.scrollIntoView) row.scrollIntoView({block: "nearest"});
    return true;
  }
  function nextRow() { return moveSelection(1); }
  function previousRow() { return moveSelection(-1); }
  function openRow(event) {
    var row = selectedRow();
    if (!row) return false;
    // Enter belongs to whatever has the focus (a link opens itself, a button presses), except on
    // the page itself or inside the selected row.
    var target = targetOf(event);
    if (event.key === "Enter" && target !== document.body &&
        (!row.contains(target) || target.closest("a, button"))) return false;
    var link = row.querySelector("[data-queue-link]");
    if (!link) return false;
    window.location.assign(link.href);
    return true;
  }

  // "a": in the workspace the "Assign to me" button; in the queue the selected row, through the
  // bulk form (only when it offers "Assign to me", that is when the member may assign).
  function assignToMe() {
    var button = document.querySelector('[data-workspace-key="a"]');
    if (button) { button.click(); return true; }
    var row = selectedRow(), form = document.getElementById("bulk-form");
    var choice = form ? form.querySelector("option[data-assign-me]") : null;
    var box = row ? row.querySelector('input[type="checkbox"][form="bulk-form"]') : null;
    if (!choice || !box) return false;
    document.querySelectorAll('input[type="checkbox"][form="bulk-form"]').forEach(function (each) {
      each.checked = each === box;
    });
    choice.selected = true;
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
    return true;
  }
  function writeComment() {
    var box = document.querySelector('[data-workspace-key="c"]');
    if (!box) return false;
    box.focus();
    if (box.scrollIntoView) box.scrollIntoView({block: "center"});
    return true;
  }
  function search() {
    var box = document.querySelector('[data-shortcut="/"]');
    if (!box) return false;
    box.focus();
    if (box.select) box.select();
    return true;
  }
  function goToQueue() {
    var link = document.querySelector('[data-shortcut="g q"]') || document.querySelector("a.brand");
    if (!link) return false;
    window.location.assign(link.href);
    return true;
  }

  // The help: a modal dialog. Focus moves into it, Tab stays inside, Escape (or Close, or a click
  // beside it) closes it and gives the focus back to what had it.
  function focusables() {
    return Array.prototype.slice.call(panel.querySelectorAll(FOCUSABLE)).filter(function (each) {
      return each.offsetParent !== null;
    });
  }
  function setOutsideInert(inert) {
    Array.prototype.forEach.call(document.body.children, function (child) {
      if (child === help || child.tagName === "SCRIPT") return;
      if (inert) child.setAttribute("inert", "");
      else child.removeAttribute("inert");
    });
  }
  function openHelp() {
    if (!help || !panel) return false;
    opener = document.activeElement;
    var toggle = help.querySelector("[data-shortcuts-toggle]");
    if (toggle) toggle.checked = enabled();
    help.hidden = false;
    setOutsideInert(true);
    panel.focus();
    return true;
  }
  function closeHelp() {
    if (!help || help.hidden) return;
    help.hidden = true;
    setOutsideInert(false);
    if (opener && opener.focus && document.contains(opener)) opener.focus();
    opener = null;
  }
  function toggleHelp() {
    if (help && !help.hidden) { closeHelp(); return true; }
    return openHelp();
  }
  function keepFocusInside(event) {
    var all = focusables();
    if (!all.length) { event.preventDefault(); panel.focus(); return; }
    var first = all[0], last = all[all.length - 1], at = document.activeElement;
    if (event.shiftKey && (at === first || at === panel || !panel.contains(at))) {
      event.preventDefault(); last.focus();
    } else if (!event.shiftKey && (at === last || !panel.contains(at))) {
      event.preventDefault(); first.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var target = targetOf(event);
    if (target.closest("[data-help-toggle]")) { toggleHelp(); return; }
    if (target.closest("[data-help-close]") || target === help) closeHelp();
  });
  document.addEventListener("change", function (event) {
    if (targetOf(event).matches("[data-shortcuts-toggle]")) setEnabled(event.target.checked);
  });

  document.addEventListener("keydown", function (event) {
    if (help && !help.hidden) {
      if (event.key === "Escape") { event.preventDefault(); closeHelp(); }
      else if (event.key === "Tab") keepFocusInside(event);
      else if (keyOf(event) === "?" && !targetOf(event).closest(TYPING)) {
        event.preventDefault(); closeHelp();
      }
      return;
    }
    if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (targetOf(event).closest(TYPING) || !enabled()) return; // never while typing in a field
    var key = keyOf(event);
    var sequence = pending && Date.now() - pendingAt < SEQUENCE_MS ? pending + " " + key : "";
    pending = "";
    if (sequence && SHORTCUTS[sequence]) {
      if (SHORTCUTS[sequence](event)) event.preventDefault();
      return;
    }
    var starts = Object.keys(SHORTCUTS).some(function (name) { return name.indexOf(key + " ") === 0; });
    if (starts) { pending = key; pendingAt = Date.now(); return; }
    if (SHORTCUTS.hasOwnProperty(key) && SHORTCUTS[key](event)) event.preventDefault();
  });

  // A row reached by Tab or a click is the selected one too, so "j" goes on from there.
  document.addEventListener("focusin", function (event) {
    var row = targetOf(event).closest("[data-queue-row]");
    if (row) markSelected(row);
  });

  // What needs this script (the button that opens the help) is shown only when it runs.
  Array.prototype.forEach.call(document.querySelectorAll("[data-needs-script]"), function (each) {
    each.hidden = false;
  });
})();

// The SLA clocks (issue 9, items 2 and 4) count down every minute, by the same rule as
// incidents.workspace.duration_text: whole minutes, at least one.
(function () {
  "use strict";
  function duration(clock, seconds) {
    var minutes = Math.max(1, Math.floor(Math.abs(seconds) / 60));
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60);
    var rest = minutes % 60, format;
    if (days) format = clock.dataset.days;
    else if (hours) format = clock.dataset.hours;
    else format = clock.dataset.minutes;
    return format.replace("{days}", days).replace("{hours}", hours).replace("{minutes}", rest);
  }
  function tick() {
    var clocks = document.querySelectorAll("time[data-countdown]");
    for (var i = 0; i < clocks.length; i++) {
      var clock = clocks[i], due = Date.parse(clock.getAttribute("datetime"));
      if (isNaN(due)) continue;
      var seconds = (due - Date.now()) / 1000, overdue = seconds <= 0;
      var pattern = overdue ? clock.dataset.overdue : clock.dataset.left;
      clock.textContent = pattern.replace("{time}", duration(clock, seconds));
      clock.classList.toggle("sla-overdue", overdue);
    }
  }
  if (document.querySelector("time[data-countdown]")) {
    tick();
    window.setInterval(tick, 60 * 1000);
  }
})();

// A table wider than the screen scrolls in its box: the box takes the focus then, so that it can
// be scrolled from the keyboard too (WCAG 2.1.1), and is named after the table's caption.
(function () {
  "use strict";
  function fit() {
    var boxes = document.querySelectorAll(".table-scroll");
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i], wide = box.scrollWidth > box.clientWidth + 1;
      if (wide && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        var caption = box.querySelector("caption");
        var name = caption ? caption.textContent.trim() : "";
        if (name) { box.setAttribute("role", "region"); box.setAttribute("aria-label", name); }
      } else if (!wide && box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex"); box.removeAttribute("role"); box.removeAttribute("aria-label");
      }
    }
  }
  fit();
  window.addEventListener("resize", fit);
})();
