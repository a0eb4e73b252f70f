// Review queue keyboard: j/k move, x selects, a/r pick accept/reject and focus the note, Enter submits.
// Self-hosted, no inline script (CSP: scripts from self only). Without it the form works by mouse.
(function () {
  "use strict";
  var form = document.getElementById("review-form");
  if (!form) return;
  var rows = Array.prototype.slice.call(form.querySelectorAll("tr.review-row"));
  var note = form.querySelector("textarea[name=note]");
  var target = document.getElementById("review-target");
  var current = -1;
  var decision = null;

  function checkbox(row) { return row.querySelector("input.row-select"); }
  function selected() { return rows.filter(function (r) { return checkbox(r).checked; }); }

  function describe() {
    var n = selected().length;
    var text = n ? n + " selected" : "select rows with the checkboxes or x";
    if (decision) text = (decision === "accepted" ? "Accept " : "Reject ") + n + " — type the note, Enter to confirm, Esc to cancel";
    target.textContent = text;
  }

  function move(to) {
    if (!rows.length) return;
    if (current >= 0) rows[current].classList.remove("current");
    current = Math.max(0, Math.min(rows.length - 1, to));
    rows[current].classList.add("current");
    rows[current].scrollIntoView({ block: "nearest" });
  }

  function choose(value) {
    if (!selected().length && current >= 0) checkbox(rows[current]).checked = true;
    if (!selected().length) return;
    decision = value;
    form.dataset.decision = value;
    describe();
    note.focus();
  }

  function submit() {
    if (!decision || !note.value.trim()) { note.focus(); return; }
    var button = form.querySelector("button[name=decision][value=" + decision + "]");
    form.requestSubmit(button);
  }

  rows.forEach(function (row, i) {
    row.addEventListener("click", function (event) {
      if (event.target.tagName !== "A" && event.target.tagName !== "INPUT") move(i);
    });
    checkbox(row).addEventListener("change", describe);
  });

  var all = form.querySelector("input.select-all");
  if (all) all.addEventListener("change", function () {
    rows.forEach(function (r) { checkbox(r).checked = all.checked; });
    describe();
  });

  note.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && decision) { event.preventDefault(); submit(); }
    if (event.key === "Escape") { decision = null; describe(); note.blur(); }
  });

  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "textarea" || tag === "input" && event.target.type === "text") return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    switch (event.key) {
      case "j": move(current + 1); break;
      case "k": move(current - 1); break;
      case "x": if (current >= 0) { var c = checkbox(rows[current]); c.checked = !c.checked; describe(); } break;
      case "a": choose("accepted"); break;
      case "r": choose("rejected"); break;
      case "o": if (current >= 0) { var link = rows[current].querySelector("a"); if (link) link.click(); } break;
      default: return;
    }
    event.preventDefault();
  });

  if (rows.length) move(0);
  if (note.value || form.querySelector(".field-invalid")) note.focus();
})();
