// Scan preview: re-scan as the manager types (300 ms after the last key) without reloading the page.
// A few lines of fetch() rather than a library (htmx, Alpine): one form, one fragment endpoint, no
// dependency to vendor and keep patched; and the CSP allows scripts from self only, no inline code.
// Without JavaScript the form posts to the page itself, which renders the same results template.
(function () {
  "use strict";
  var form = document.getElementById("scan-preview-form");
  if (!form || !window.fetch || !window.FormData) return;
  var results = document.getElementById(form.dataset.results);
  var url = form.dataset.resultsUrl;
  var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var timer = null;
  var controller = null;

  function refresh() {
    if (controller) controller.abort(); // only the latest text matters
    controller = window.AbortController ? new AbortController() : null;
    results.setAttribute("aria-busy", "true");
    fetch(url, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-CSRFToken": token, "X-Requested-With": "fetch" },
      credentials: "same-origin",
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text();
    }).then(function (html) {
      results.innerHTML = html; // our own server-rendered, escaped template fragment
      results.removeAttribute("aria-busy");
    }).catch(function (error) {
      if (error.name === "AbortError") return;
      results.removeAttribute("aria-busy");
      var note = document.createElement("p");
      note.className = "error";
      note.textContent = "Could not refresh the results (" + error.message + "); press Scan.";
      results.prepend(note);
    });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 300);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    window.clearTimeout(timer);
    refresh();
  });
  var note = form.querySelector(".scan-live-note");
  if (note) note.hidden = false;
})();
