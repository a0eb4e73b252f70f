// Live progress for an import batch: polls the batch's JSON every 2 s and updates the bar and counts.
// Sixty lines of plain JS instead of a library (htmx, a framework): nothing to vendor or upgrade, no
// CDN (static files are self-hosted), and it runs under the CSP because it is a file from our origin.
(function () {
  "use strict";
  var root = document.querySelector("[data-progress-url]");
  if (!root) return;
  var ORDER = ["claimed", "error", "expired", "cancelled"];
  var wasReading = root.hasAttribute("data-reading");

  function text(name, value) {
    var el = root.querySelector('[data-field="' + name + '"]');
    if (el) el.textContent = value;
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  // The same wording as the page's template filters (duration, countdown).
  function duration(seconds) {
    var d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600);
    var m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (d) return d + " d " + h + " h";
    if (h) return h + " h " + pad(m) + " min";
    if (m) return m + " min " + pad(s) + " s";
    return s + " s";
  }

  function deadline(iso) {
    var at = new Date(iso), left = Math.round((at - Date.now()) / 1000);
    var month = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ")[at.getUTCMonth()];
    return "next deadline " + month + " " + at.getUTCDate() + ", " + pad(at.getUTCHours()) + ":" +
      pad(at.getUTCMinutes()) + " UTC (" + (left >= 0 ? duration(left) + " left" : "passed") + ")";
  }

  function show(p) {
    var x = 0;
    ORDER.forEach(function (state) {
      var width = p.total ? (p.counts[state] * 100) / p.total : 0;
      var rect = root.querySelector('[data-segment="' + state + '"]');
      if (rect) { rect.setAttribute("x", x + "%"); rect.setAttribute("width", width + "%"); }
      x += width;
    });
    Object.keys(p.counts).forEach(function (state) {
      var el = root.querySelector('[data-count="' + state + '"]');
      if (el) el.textContent = p.counts[state];
    });
    root.querySelector("[data-progress-bar]").setAttribute("aria-valuenow", p.percent_done);
    text("percent_done", p.percent_done + "%");
    text("claims_per_minute", p.claims_per_minute.toFixed(1));
    text("eta", p.done ? "finished" : p.eta_seconds === null ? "time left unknown" : "about " + duration(p.eta_seconds) + " left");
    var next = root.querySelector('[data-field="next_deadline"]');
    if (next) {
      next.textContent = p.next_deadline ? deadline(p.next_deadline) : "nothing left to claim";
      next.className = p.next_deadline_at_risk ? "urgent" : "";
    }
  }

  function poll() {
    fetch(root.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (p) {
        // The file was being read in the background: reload once, for its rejected rows and counts.
        if (wasReading && !p.reading) { window.location.reload(); return; }
        wasReading = p.reading;
        show(p);
        if (!p.done) setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 10000); }); // a hiccup: try again, more slowly
  }

  poll();
})();
