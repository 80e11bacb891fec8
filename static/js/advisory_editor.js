// The advisory editor's live preview (issue 10): while the author types, the Markdown body and
// the CVSS vectors are posted to the preview endpoint, which answers the sanitised HTML that
// readers will see (advisories.content.render_markdown) and the scores. The page works without
// this file: its "Preview" button renders the same preview on the server.
(function () {
  "use strict";

  var DELAY_MS = 400; // wait for a pause in the typing before asking
  var form = document.querySelector("form[data-advisory-editor]");
  if (!form || !window.fetch || !window.FormData) return;

  var url = form.getAttribute("data-preview-url");
  var body = form.querySelector("[data-preview-body]");
  var scores = form.querySelector("[data-preview-scores]");
  var status = form.querySelector("[data-preview-status]");
  var sources = form.querySelectorAll("[data-preview-source]");
  var token = form.querySelector('input[name="csrfmiddlewaretoken"]');
  if (!url || !body || !token) return;

  var timer = null;
  var asked = 0; // the number of the latest request: an older answer arriving late is dropped

  function text(name) {
    var field = form.elements[name];
    return field ? field.value : "";
  }

  function scoreRow(label, score) {
    var row = document.createElement("div");
    var term = document.createElement("dt");
    var value = document.createElement("dd");
    term.textContent = label;
    if (score.error) {
      var error = document.createElement("span");
      error.className = "field-message-error";
      error.textContent = score.error;
      value.appendChild(error);
    } else {
      var strong = document.createElement("strong");
      var code = document.createElement("code");
      strong.textContent = score.score;
      code.className = "cvss-vector";
      code.textContent = score.vector;
      value.appendChild(strong);
      value.appendChild(document.createTextNode(" "));
      value.appendChild(code);
    }
    row.appendChild(term);
    row.appendChild(value);
    return row;
  }

  function show(answer) {
    // The server sanitised this HTML (nh3): it holds no script, no event attribute, no image.
    body.innerHTML = answer.html;
    if (scores) {
      scores.textContent = "";
      if (answer.cvss_v3) scores.appendChild(scoreRow(scores.getAttribute("data-v3-label") || "CVSS v3.1", answer.cvss_v3));
      if (answer.cvss_v4) scores.appendChild(scoreRow(scores.getAttribute("data-v4-label") || "CVSS v4.0", answer.cvss_v4));
    }
    if (status) status.textContent = status.getAttribute("data-live-text") || status.textContent;
  }

  function ask() {
    var number = ++asked;
    var data = new FormData();
    data.append("body_markdown", text("body_markdown"));
    data.append("cvss_v3_vector", text("cvss_v3_vector"));
    data.append("cvss_v4_vector", text("cvss_v4_vector"));
    fetch(url, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: {"X-CSRFToken": token.value, "Accept": "application/json"}
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    }).then(function (answer) {
      if (number === asked) show(answer);
    }).catch(function () {
      if (number === asked && status) {
        status.textContent = status.getAttribute("data-failed-text") || status.textContent;
      }
    });
  }

  function later() {
    if (timer) window.clearTimeout(timer);
    timer = window.setTimeout(ask, DELAY_MS);
  }

  for (var i = 0; i < sources.length; i++) {
    sources[i].addEventListener("input", later);
  }
  if (text("body_markdown") || text("cvss_v3_vector") || text("cvss_v4_vector")) ask();
})();
